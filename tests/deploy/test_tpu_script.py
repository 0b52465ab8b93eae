"""``deploy/tpu/train.sh``: valid bash that, run with a stand-in ``gcloud``, asks for ssh to every host
of the TPU VM with a command whose sagan-train part the trainer's parser reads as a TPU run, its
settings quoted as given; without a TPU name or zone it stops before calling gcloud."""

import os
import shlex
import subprocess

from tests.helpers.deploy import DEPLOY, trainer_args

SCRIPT = DEPLOY / "tpu" / "train.sh"


def run_script(tmp_path, **settings):
    """The script run by bash with a stand-in gcloud that records its arguments; (result, arguments)."""
    record = tmp_path / "gcloud.args"
    fake = tmp_path / "bin" / "gcloud"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f"#!/bin/bash\nprintf '%s\\0' \"$@\" > {shlex.quote(str(record))}\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("TPU", "ZONE", "CONFIG", "RUN", "DATA_DIR", "ACTIVATE")}
    env.update(PATH=f"{fake.parent}:{os.environ['PATH']}", **settings)
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    return result, (record.read_text().split("\0")[:-1] if record.exists() else None)


def test_the_script_is_valid_bash_and_executable():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    assert os.access(SCRIPT, os.X_OK)


def test_it_runs_sagan_train_on_every_host_of_the_tpu_vm(tmp_path):
    result, words = run_script(tmp_path, TPU="my-tpu", ZONE="us-central2-b", CONFIG="celeba64", RUN="/mnt/runs/a b",
                               DATA_DIR="/mnt/tfds")
    assert result.returncode == 0, result.stderr
    assert words[:5] == ["compute", "tpus", "tpu-vm", "ssh", "my-tpu"]
    assert "--zone=us-central2-b" in words and "--worker=all" in words
    (command,) = [w[len("--command="):] for w in words if w.startswith("--command=")]
    activate, trainer = command.split(" && ")
    assert activate == "source ~/sagan-venv/bin/activate"
    remote = shlex.split(trainer)  # as the remote shell splits it
    assert remote[0] == "exec"
    args = trainer_args(remote[1:])
    assert (args.strategy, args.tpu, args.config, args.logdir, args.data_dir) == (
        "tpu", "local", "celeba64", "/mnt/runs/a b", "/mnt/tfds"
    )


def test_the_defaults_train_imagenet128_in_the_home_directory(tmp_path):
    result, words = run_script(tmp_path, TPU="t", ZONE="z", ACTIVATE="true")
    assert result.returncode == 0, result.stderr
    (command,) = [w[len("--command="):] for w in words if w.startswith("--command=")]
    args = trainer_args(shlex.split(command.split(" && ")[1])[1:])
    assert (args.config, args.logdir, args.data_dir) == ("imagenet128", "runs/imagenet128", "tensorflow_datasets")


def test_without_a_tpu_name_or_zone_it_stops_before_gcloud(tmp_path):
    for settings, message in (({"ZONE": "z"}, "TPU: set TPU to the name of the TPU VM"),
                              ({"TPU": "t"}, "ZONE: set ZONE to the zone of the TPU VM")):
        result, words = run_script(tmp_path, **settings)
        assert result.returncode != 0 and words is None
        assert result.stderr.strip().endswith(message)
