"""Preemption and double starts: SIGTERM/SIGINT save the reached step and resume exactly; one
trainer per run directory; under ``multiworker`` a signal to one worker stops all after one step."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

from tests.helpers import REPO
from tests.helpers.cli import assert_same_training, checkpoint_tensors, free_ports, read_events, run_cli, train_args
from tests.helpers.small_data import ADA_LECAM, check_logged_regularization

STEPS = 40
RARE = ("log.checkpoint_every=1000", "log.samples_every=1000")  # the only checkpoint is the one a signal writes
# Small-data training (a subset, held-out images, DiffAugment with ADA, LeCam): their state resumes too.
SMALL_DATA = ("data.limit=240", "log.heldout=16", "log.heldout_every=10", *ADA_LECAM)


def start(logdir, steps, *extra, env, stderr_path):
    """A trainer subprocess; its stderr goes to ``stderr_path`` (``proc.stderr_path``)."""
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sagan_tf.train", *train_args(logdir, steps, *extra)],
            cwd=REPO, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env), stdout=subprocess.DEVNULL, stderr=err,
        )
    proc.stderr_path = Path(stderr_path)
    return proc


def logged_steps(logdir) -> set[int]:
    """Steps with a ``d_loss`` in the TensorBoard events (read while the trainer may be writing)."""
    steps = set()
    for path in Path(logdir, "train").glob("events.out.tfevents.*"):
        try:
            for event in tf.compat.v1.train.summary_iterator(str(path)):
                steps.update(event.step for value in event.summary.value if value.tag == "d_loss")
        except tf.errors.DataLossError:  # a record being written
            pass
    return steps


def wait_until(condition, procs, timeout=300):
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        for p in procs:
            assert p.poll() is None, f"the trainer ended early ({p.returncode})"
        time.sleep(0.05)
    pytest.fail("timed out")


def interruption(stderr: str, signame: str) -> tuple[int, str]:
    """(step, checkpoint) of the one ``interrupted ...`` line; no traceback, no error line."""
    assert "Traceback" not in stderr and "error:" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1, stderr[-3000:]
    match = re.fullmatch(
        rf"interrupted by {signame}( on another worker)? at step (\d+); checkpoint (.+); run the same command to resume",
        lines[0],
    )
    assert match, lines[0]
    return int(match[2]), match[3]


def step_in(checkpoint: str) -> int:
    return int(tf.train.load_checkpoint(checkpoint).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tfds_dir):
    logdir = tmp_path_factory.mktemp("straight") / "run"
    result = run_cli("sagan_tf.train", *train_args(logdir, STEPS, *RARE, *SMALL_DATA), tfds_dir=tfds_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return logdir


# SIGINT (Ctrl-C) takes SIGTERM's handler; its run is slow (half a minute) and left out of CI.
@pytest.mark.parametrize("sig", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_signal_saves_the_reached_step_and_the_same_command_resumes_exactly(tmp_path, tfds_dir, straight, sig):
    run = tmp_path / "run"
    proc = start(run, STEPS, *RARE, *SMALL_DATA, env={"TFDS_DATA_DIR": tfds_dir}, stderr_path=tmp_path / "run.stderr")
    wait_until(lambda: max(logged_steps(run), default=0) >= 5, [proc])
    proc.send_signal(sig)
    proc.wait(timeout=300)
    assert proc.returncode == 128 + sig == (143 if sig == signal.SIGTERM else 130)
    step, checkpoint = interruption(proc.stderr_path.read_text(), sig.name)
    assert 5 <= step < STEPS
    # The checkpoint is of the step the run reached (the cadence would have written none before step 1000).
    assert checkpoint == str(run / "checkpoints" / f"ckpt-{step}")
    state = tf.train.get_checkpoint_state(str(run / "checkpoints"))
    assert list(state.all_model_checkpoint_paths) == [checkpoint] and step_in(checkpoint) == step
    assert max(logged_steps(run)) == step
    assert not (run / "trainer.lock").exists()
    # What TensorBoard shows of ADA and LeCam at the signal's step is what its checkpoint holds.
    check_logged_regularization(read_events(run / "train")[0], checkpoint_tensors(checkpoint), step, 1e-5)

    resumed = run_cli("sagan_tf.train", *train_args(run, STEPS, *RARE, *SMALL_DATA), tfds_dir=tfds_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {checkpoint} at step {step}" in resumed.stderr
    scalars = assert_same_training(straight, run, STEPS)  # the augmentation probability and anchors included
    final = checkpoint_tensors(str(straight / "checkpoints" / f"ckpt-{STEPS}"))
    p = final["regularization/augment_p/.ATTRIBUTES/VARIABLE_VALUE"]
    assert p != pytest.approx(0.3) and final["regularization/lecam_updates/.ATTRIBUTES/VARIABLE_VALUE"] == 2 * STEPS  # d_steps: 2
    check_logged_regularization(scalars, final, STEPS, 1e-5)
    assert sorted(scalars["overfitting/gap"]) == [0, 10, 20, 30, 40]
    for s in scalars["overfitting/gap"]:
        d = {k: scalars[f"overfitting/d_{k}"][s] for k in ("train", "heldout")}
        assert scalars["overfitting/gap"][s] == pytest.approx(d["train"] - d["heldout"], abs=1e-5)


def test_sigint_then_sigterm_stop_the_trainer_at_once_with_143_naming_a_checkpoint_on_disk(tmp_path, tfds_dir):
    run = tmp_path / "run"
    proc = start(run, 100_000, env={"TFDS_DATA_DIR": tfds_dir}, stderr_path=tmp_path / "run.stderr")
    wait_until(lambda: tf.train.latest_checkpoint(str(run / "checkpoints")) is not None, [proc])
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)  # the second signal: no waiting for the step or the save
    proc.wait(timeout=30)
    stderr = proc.stderr_path.read_text()
    assert proc.returncode == 143, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    match = re.fullmatch(r"interrupted by SIGINT and SIGTERM \(a second signal\): stopped at once, the step in flight "
                         r"is not saved; "
                         r"the last checkpoint is (.+); run the same command to resume", lines[0])
    assert match, lines[0]
    state = tf.train.get_checkpoint_state(str(run / "checkpoints"))
    assert match[1] in state.all_model_checkpoint_paths and step_in(match[1]) == int(match[1].rsplit("-", 1)[1])


def test_a_signal_during_start_up_stops_at_once_and_a_new_run_leaves_nothing(tmp_path, tfds_dir):
    run = tmp_path / "runs" / "new"
    proc = start(run, STEPS, env={"TFDS_DATA_DIR": tfds_dir}, stderr_path=tmp_path / "new.stderr")
    wait_until(lambda: (run / "trainer.lock").exists(), [proc])  # locked before TensorFlow is imported
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    stderr = proc.stderr_path.read_text()
    assert proc.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stderr and [line for line in stderr.splitlines() if line.startswith("interrupted")] == [
        "interrupted by SIGTERM during start-up; run the same command to resume from the latest checkpoint"
    ]
    assert not (tmp_path / "runs").exists()


def test_a_second_trainer_is_refused_while_the_first_runs_and_allowed_after_it_is_killed(tmp_path, tfds_dir):
    run = tmp_path / "run"
    first = start(run, 100_000, env={"TFDS_DATA_DIR": tfds_dir}, stderr_path=tmp_path / "first.stderr")
    try:
        wait_until(lambda: tf.train.latest_checkpoint(str(run / "checkpoints")) is not None, [first])
        config = (run / "config.yaml").read_bytes()
        holder = json.loads((run / "trainer.lock").read_text())
        assert holder["pid"] == first.pid

        # The same command with other steps: it would rewrite config.yaml if it were let in.
        second = run_cli("sagan_tf.train", *train_args(run, 7), tfds_dir=tfds_dir)
        assert second.returncode == 2
        errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
        assert errors == [
            f"error: {run} is in use by another trainer (pid {first.pid} on host {holder['host']}, since "
            f"{holder['since']}); stop it first or use another --logdir"
        ], second.stderr[-2000:]
        assert "Traceback" not in second.stderr
        assert (run / "config.yaml").read_bytes() == config
        assert {p.name for p in run.iterdir()} >= {"config.yaml", "checkpoints", "train", "trainer.lock"}
        assert {p.name for p in run.iterdir()} <= {"config.yaml", "checkpoints", "train", "trainer.lock", "training.json"}
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (run / "trainer.lock").exists()  # what the killed trainer left; the lock itself died with it
    killed_at = step_in(tf.train.latest_checkpoint(str(run / "checkpoints")))

    third = run_cli("sagan_tf.train", *train_args(run, killed_at + 2), tfds_dir=tfds_dir)
    assert third.returncode == 0, third.stderr[-3000:]
    assert f"at step {killed_at}" in third.stderr
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith(f"ckpt-{killed_at + 2}")
    assert not (run / "trainer.lock").exists()


def test_sigterm_to_one_worker_stops_both_after_the_same_step_with_one_checkpoint(tmp_path, tfds_dir):
    """Two ``--strategy multiworker`` processes on 127.0.0.1 share one run directory (only the chief
    locks and writes it); worker 1 gets SIGTERM, and both save the same step and exit with 143."""
    run = tmp_path / "run"
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        env = {"TFDS_DATA_DIR": tfds_dir, "TF_CONFIG": tf_config}
        extra = (*RARE, "--strategy", "multiworker")
        procs.append(start(run, 100_000, *extra, env=env, stderr_path=tmp_path / f"w{index}.stderr"))
    try:
        wait_until(lambda: max(logged_steps(run), default=0) >= 3, procs, timeout=420)
        procs[1].send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=300)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    stderrs = [p.stderr_path.read_text() for p in procs]
    assert [p.returncode for p in procs] == [143, 143], [s[-2000:] for s in stderrs]
    (chief_step, chief_ckpt), (worker_step, worker_ckpt) = (interruption(s, "SIGTERM") for s in stderrs)
    assert "on another worker" in stderrs[0] and "on another worker" not in stderrs[1]
    assert chief_step == worker_step >= 3
    assert chief_ckpt == str(run / "checkpoints" / f"ckpt-{chief_step}")
    assert worker_ckpt == f"{chief_ckpt} (written by the chief)"
    state = tf.train.get_checkpoint_state(str(run / "checkpoints"))
    assert list(state.all_model_checkpoint_paths) == [chief_ckpt] and step_in(chief_ckpt) == chief_step
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml", "train", "training.json"]
    # the chief's record: one session of both workers' replicas, up to the saved step
    (session,) = json.loads((run / "training.json").read_text())["sessions"]
    assert session["replicas"] == 2 and session["strategy"] == "multiworker"
    assert (session["start_step"], session["end_step"]) == (0, chief_step)


def test_the_agreement_sums_every_replicas_flags(mirrored):
    from sagan_tf.training.loop import make_agreement

    assert make_agreement(mirrored)(tf.constant([0.0, 1.0])).numpy().tolist() == [0.0, 2.0]
    assert make_agreement(tf.distribute.get_strategy())(tf.constant([1.0, 0.0])).numpy().tolist() == [1.0, 0.0]
