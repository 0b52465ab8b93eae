"""``deploy/slurm/train.sbatch``: valid bash, Slurm's preemption signal, and an ``srun sagan-train``
line whose arguments the real argument parser accepts as a Slurm multi-worker run."""

import os
import re
import shlex
import subprocess

from tests.helpers import REPO
from tests.helpers.cli import sagan_train_arguments as parse_args

SCRIPT = REPO / "deploy" / "slurm" / "train.sbatch"


def sbatch_options() -> dict[str, str]:
    found = re.findall(r"^#SBATCH (--[\w-]+)(?:=(\S+))?", SCRIPT.read_text(), re.MULTILINE)
    return dict(found)


def srun_line() -> list[str]:
    """The ``srun ...`` command of the script, its continuation lines joined, split as bash would."""
    text = SCRIPT.read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("srun ")]
    return shlex.split(line)


def test_the_script_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_it_asks_for_sigterm_before_the_time_limit_and_one_task_per_node():
    options = sbatch_options()
    signal, seconds = options["--signal"].split("@")
    assert signal == "TERM" and int(seconds) >= 60  # the tasks (not the batch shell: no "B:") get SIGTERM
    assert options["--ntasks-per-node"] == "1" and options["--gres"].startswith("gpu:") and int(options["--nodes"]) >= 2


def test_the_srun_line_runs_sagan_train_with_flags_the_parser_accepts():
    words = srun_line()
    assert words[0] == "srun" and "--distribution=block" in words  # the resolver's task numbering
    start = words.index("sagan-train")
    values = {"$PORT_BASE": "8888", "$RUN": "/shared/run", "$CONFIG": "imagenet128", "$DATA_DIR": "/shared/tfds"}
    args = parse_args([values.get(w, w) for w in words[start + 1:]])
    assert set(values) <= set(words)  # every setting of the script reaches sagan-train
    assert (args.strategy, args.cluster, args.port_base, args.logdir) == ("multiworker", "slurm", 8888, "/shared/run")


def test_run_as_a_batch_script_it_passes_its_settings_to_every_task(tmp_path):
    """The script run by bash with a stand-in srun that records its arguments: the variables reach
    sagan-train, and the real parser reads them."""
    record = tmp_path / "srun.args"
    fake = tmp_path / "bin" / "srun"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/bash\nprintf '%s\\0' \"$@\" > {shlex.quote(str(record))}\n")
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake.parent}:{os.environ['PATH']}", RUN="/nfs/runs/a b", CONFIG="celeba64",
               PORT_BASE="12000")
    env.pop("DATA_DIR", None)
    result = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    words = record.read_text().split("\0")[:-1]
    args = parse_args(words[words.index("sagan-train") + 1:])
    assert (args.logdir, args.config, args.port_base, args.data_dir) == (
        "/nfs/runs/a b", "celeba64", 12000, "/shared/tensorflow_datasets"
    )
    assert (args.strategy, args.cluster) == ("multiworker", "slurm")
