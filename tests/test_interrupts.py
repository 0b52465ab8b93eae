"""Signals during training: the checkpoint comes before the slow callbacks, a signal cuts those short,
a second signal ends the process at once (also while TensorFlow blocks the main thread), and the exit
status is 143 whenever a SIGTERM arrived."""

import os
import signal
import subprocess
import sys
import time

import keras
import pytest
import tensorflow as tf

from sagan_tf import interrupts
from sagan_tf.runs.checkpointing import Checkpointer, PeriodicCheckpoint
from sagan_tf.training import loop
from sagan_tf.training.builders import build_sagan
from tests.helpers import REPO
from tests.helpers.training import batches, tiny_config


def send(sig):
    """``sig`` to this process; Python runs the handler before the next line."""
    os.kill(os.getpid(), sig)


def test_a_signal_in_an_uninterrupted_block_stops_the_callbacks_only_when_the_block_ends():
    requests = interrupts.StopRequests()
    done = []
    with requests.installed(), pytest.raises(interrupts.CallbacksStopped), requests.stoppable():
        with interrupts.uninterrupted():
            send(signal.SIGTERM)
            done.append("the write")  # not cut short
        done.append("after the block")  # never reached
    assert done == ["the write"] and requests.received == [signal.SIGTERM]


def test_after_a_signal_the_stoppable_block_does_not_start_and_outside_it_a_signal_only_sets_a_flag():
    requests = interrupts.StopRequests()
    before = signal.getsignal(signal.SIGINT)
    with requests.installed():
        send(signal.SIGINT)  # not stoppable, not at once: recorded
        assert requests.received == [signal.SIGINT] and requests.flags() == [1.0, 0.0]
        with pytest.raises(interrupts.CallbacksStopped), requests.stoppable():
            pytest.fail("the block ran after a signal")
    assert signal.getsignal(signal.SIGINT) is before  # restored


class Recorder(keras.callbacks.Callback):
    """Notes ``(name, step)`` at each batch end; at ``signal_at`` it signals the process and then
    works for up to ``work`` seconds in small pieces (a slow FID, say)."""

    def __init__(self, name, log, signal_at=None, work=0.0, always_runs=False):
        super().__init__()
        self.name, self.log, self.signal_at, self.work = name, log, signal_at, work
        self.always_runs = always_runs
        self.finished_work = False

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.step.numpy())
        self.log.append((self.name, step))
        if step == self.signal_at:
            send(signal.SIGTERM)
            deadline = time.monotonic() + self.work
            while time.monotonic() < deadline:
                time.sleep(0.01)
            self.finished_work = True


def test_sigterm_in_a_slow_callback_cuts_it_short_and_the_step_is_saved_first(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_sagan(tiny_config(batch_size=8))
    checkpointer = Checkpointer(model, str(tmp_path), keep=3)
    log = []
    slow = Recorder("slow", log, signal_at=3, work=60.0)
    late = Recorder("late", log)  # a stoppable callback after the slow one
    summaries = Recorder("summaries", log, always_runs=True)
    # The user's order puts the slow callbacks first; the loop runs the checkpoint and summaries first.
    callbacks = [slow, late, PeriodicCheckpoint(checkpointer, every=1000), summaries]
    requests = interrupts.StopRequests()
    with requests.installed(), pytest.raises(interrupts.Interrupted) as stop:
        loop.train(model, batches(8), tf.distribute.get_strategy(), 10, callbacks, verbose=0, stop_requests=requests)
    assert stop.value.step == 3 and stop.value.signals == [signal.SIGTERM]
    assert not slow.finished_work  # the 60 s of work stopped at the signal
    assert log == [(name, step) for step in (1, 2) for name in ("summaries", "slow", "late")] + [
        ("summaries", 3), ("slow", 3)
    ]
    assert checkpointer.last_path == str(tmp_path / "ckpt-3") == tf.train.latest_checkpoint(str(tmp_path))
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert list(state.all_model_checkpoint_paths) == [str(tmp_path / "ckpt-3")]  # only the one the signal asked for


def test_a_signal_during_the_step_skips_the_slow_callbacks_of_that_step(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_sagan(tiny_config(batch_size=8))
    checkpointer = Checkpointer(model, str(tmp_path), keep=3)
    log = []

    class SignalDuringStep(keras.callbacks.Callback):
        always_runs = True

        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1:
                send(signal.SIGINT)  # the step that follows is the one in flight

    callbacks = [Recorder("slow", log), SignalDuringStep(), PeriodicCheckpoint(checkpointer, every=1000)]
    requests = interrupts.StopRequests()
    with requests.installed(), pytest.raises(interrupts.Interrupted) as stop:
        loop.train(model, batches(8), tf.distribute.get_strategy(), 10, callbacks, verbose=0, stop_requests=requests)
    assert stop.value.step == 2 and stop.value.signals == [signal.SIGINT]
    assert log == [("slow", 1)]  # step 2's slow callback never started
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-2")


HUNG = """
import sys
import tensorflow as tf
from sagan_tf.interrupts import StopRequests

requests = StopRequests()
with requests.installed():
    requests.start_training()
    requests.last_checkpoint = lambda: "runs/x/checkpoints/ckpt-7"
    queue = tf.queue.FIFOQueue(1, tf.int32)
    print("blocked", flush=True)
    queue.dequeue()  # waits forever inside TensorFlow: Python's signal handlers cannot run
print("unreachable", flush=True)
"""


@pytest.mark.parametrize("first, second, status", [(signal.SIGINT, signal.SIGTERM, 143),
                                                   (signal.SIGINT, signal.SIGINT, 130)], ids=["INT-TERM", "INT-INT"])
def test_a_second_signal_ends_a_hung_trainer_at_once_naming_the_last_checkpoint(first, second, status):
    proc = subprocess.Popen([sys.executable, "-c", HUNG], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    try:
        assert proc.stdout.readline() == "blocked\n"
        time.sleep(0.3)
        proc.send_signal(first)
        time.sleep(1.0)
        assert proc.poll() is None  # the first signal only asks for a stop at the end of the step
        proc.send_signal(second)
        proc.wait(timeout=600)  # the step never ends (blocked): ending at all is ending at once
    finally:
        proc.kill()
    stdout, stderr = proc.communicate()
    assert proc.returncode == status and "unreachable" not in stdout
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted")]
    assert lines == [
        f"interrupted by {interrupts.names([first, second])} (a second signal): stopped at once, the step in flight "
        "is not saved; "
        "the last checkpoint is runs/x/checkpoints/ckpt-7; run the same command to resume"
    ], stderr[-2000:]


def test_sigterm_wins_the_exit_status_also_when_it_arrives_after_the_stop_was_decided():
    """Under ``multiworker`` the loop stops on another worker's SIGINT; a SIGTERM to this process
    while it saves is its first own signal (no immediate exit) and sets the status."""
    requests = interrupts.StopRequests()
    with requests.installed():
        stop = interrupts.Interrupted(12, [signal.SIGINT], here=False)
        assert requests.status(stop) == 130
        send(signal.SIGTERM)  # during the save on the way out
        assert requests.status(stop) == 143
        assert requests.status(interrupts.Interrupted(12, [signal.SIGTERM, signal.SIGINT])) == 143
