"""``Trainer``: a run from Python as ``sagan-train`` makes it. It stops on SIGINT after the step in
flight with a checkpoint of it (a notebook's stop button, Ctrl-C), handles no signal outside the
main thread, and refuses mistakes in one ``SaganError`` line before anything is written. Training
and resuming: ``tests/test_python_api.py`` and, through the command line around it, ``tests/cli``."""

import signal
import threading

import pytest

from sagan_tf import interrupts
from sagan_tf.errors import CheckpointError, ConfigError, SaganError, Stopped
from sagan_tf.trainer import Trainer
from sagan_tf.trainer.run_directory import lock_run_dir
from sagan_tf.trainer.signals import stop_requests
from tests.helpers import REPO
from tests.helpers.cli import TINY

CONFIG = REPO / "configs" / "fashion_mnist32.yaml"
SETTINGS = [*TINY, "train.batch_size=8", "train.d_steps=1", "log.checkpoint_every=2", "data.shuffle_buffer=64"]


def interrupt_after_the_first_step(monkeypatch) -> None:
    """SIGINT to this process right after the first step has run, as the stop button sends it."""
    start_training = interrupts.StopRequests.start_training
    sent = []

    def and_interrupt(self):
        start_training(self)
        if not sent:
            sent.append(True)
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(interrupts.StopRequests, "start_training", and_interrupt)


def test_sigint_saves_the_step_in_flight_and_says_how_to_resume(tmp_path, tfds_dir, monkeypatch):
    logdir = tmp_path / "run"
    trainer = Trainer(CONFIG, logdir, overrides=SETTINGS, data_dir=tfds_dir, verbose=0)
    interrupt_after_the_first_step(monkeypatch)
    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(Stopped) as stopped:
        trainer.train(steps=3)
    assert stopped.value.status == 130
    assert str(stopped.value) == (f"interrupted by SIGINT at step 1; checkpoint {logdir / 'checkpoints' / 'ckpt-1'}; "
                                  "run the same command to resume")
    assert (logdir / "checkpoints" / "ckpt-1.index").exists() and not (logdir / "trainer.lock").exists()
    assert signal.getsignal(signal.SIGINT) is previous  # the handlers are the caller's again


def test_outside_the_main_thread_no_signal_is_handled():
    """Python delivers signals to the main thread only: a trainer in another thread installs no
    handlers (nor takes SIGTERM back from a multi-worker strategy) and is never stopped by one."""
    seen = {}

    def session():
        before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        with stop_requests(handle_signals=True) as requests:
            requests.stop_at_once()
            requests.reclaim()
            seen["handlers"] = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        seen["before"], seen["received"] = before, requests.received

    thread = threading.Thread(target=session)
    thread.start()
    thread.join()
    assert seen["handlers"] == seen["before"] and seen["received"] == []
    with stop_requests(handle_signals=False) as requests:
        requests.reclaim()
        assert signal.getsignal(signal.SIGINT) is seen["before"][0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(cluster="slurm"), "--cluster slurm needs --strategy multiworker"),
    (dict(strategy="multiworker", port_base=9000), "--port-base needs --cluster slurm"),
    (dict(tpu="local"), "--tpu needs --strategy tpu"),
    (dict(strategy="nccl"), "unknown strategy 'nccl' (choose from default, mirrored, multiworker, tpu)"),
    (dict(strategy="multiworker", cluster="lsf"), "unknown cluster 'lsf' (choose from tf_config, slurm, kubernetes)"),
    (dict(logdir="gs://bucket/runs/a"), "--logdir gs://bucket/runs/a: the run directory must be a file system path"),
])
def test_a_placement_mistake_is_one_line_when_the_trainer_is_made(kwargs, message):
    with pytest.raises(ConfigError) as raised:
        Trainer(CONFIG, **{"logdir": "runs/x", **kwargs})
    assert str(raised.value).startswith(message) and len(str(raised.value).splitlines()) == 1


def test_a_strategy_object_is_used_as_it_is(mirrored):
    assert Trainer(CONFIG, "runs/x", strategy=mirrored).strategy is mirrored
    with pytest.raises(ConfigError, match="used as it is: cluster, tpu"):
        Trainer(CONFIG, "runs/x", strategy=mirrored, virtual_cpus=2)


def test_the_config_is_the_run_s_own_to_resume_and_a_changed_model_is_refused(tmp_path):
    with pytest.raises(SaganError, match=r"--config is required \(no .*config.yaml to resume from\)"):
        _ = Trainer(None, tmp_path / "run").config
    with pytest.raises(SaganError, match="training needs a run directory"):
        Trainer(CONFIG).train()
    from sagan_tf import config as config_lib

    (tmp_path / "run").mkdir()
    config_lib.save(config_lib.load(CONFIG, TINY), tmp_path / "run" / "config.yaml")
    assert Trainer(None, tmp_path / "run", overrides=["train.steps=7"]).config.model.ch == 4
    cfg = config_lib.load(CONFIG, TINY)
    assert Trainer(cfg, tmp_path / "run", overrides=["train.steps=7"]).config.train.steps == 7
    assert cfg.train.steps != 7  # the caller's Config is not changed
    with pytest.raises(CheckpointError, match="model.ch: 4 -> 8"):
        _ = Trainer(cfg, tmp_path / "run", overrides=["model.ch=8"]).config


def test_a_run_directory_in_use_is_refused_before_anything_is_read(tmp_path):
    run = tmp_path / "run"
    with lock_run_dir(run, chief=True), pytest.raises(SaganError, match="is in use by another trainer"):
        Trainer(CONFIG, run).train()


def test_a_dry_run_reports_and_writes_nothing(tmp_path):
    report = Trainer(CONFIG, tmp_path / "run", overrides=[*TINY, "data.limit=100"]).dry_run()
    config_text, rest = report.split("\n---\n")
    assert "ch: 4" in config_text and "data: TFDS fashion_mnist, split 'train', 10 classes" in rest
    assert "replicas: 1 (default), global batch 16 = 16 per replica" in rest and rest.endswith("dry run: nothing written\n")
    assert not (tmp_path / "run").exists()
