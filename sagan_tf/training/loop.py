"""The distributed training loop around ``SAGAN.train_step``, for every ``tf.distribute`` strategy.

``model.fit`` works for the default and mirrored strategies, but not under
``MultiWorkerMirroredStrategy`` on Keras 3.15 (keras-team/keras#20585), so the command-line trainer
runs this small loop instead: ``strategy.run(model.train_step)`` on a distributed dataset inside
one ``tf.function``, the replicas' logs averaged, Keras callbacks and progress bar around it.
After every step the losses are checked: a NaN or Inf stops training with a ``DivergenceError``
naming the step, before any callback (checkpoint) sees the broken state (``divergence``).

The callbacks run in two groups. Those with ``always_runs = True`` (the periodic checkpoint, the
training record, the scalar summaries, the progress bar) run first, at every step. The others (sample
grids, FID, attention pictures: the slow ones) run after them, and only while no signal has arrived:
a SIGTERM or SIGINT skips them, or stops them where they are (``interrupts.StopRequests.stoppable``).
Then the signal ends training with ``interrupts.Interrupted``, and the checkpoint callback saves
that step on the way out: within one step plus one save of the signal. Under ``multiworker`` the
workers first sum their signal flags over all replicas (``make_agreement``), so that all of them
stop after the same step even when only one was signalled.
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from sagan_tf import interrupts
from sagan_tf.cluster.distribute import is_multi_client
from sagan_tf.errors import DivergenceError
from sagan_tf.training.divergence import divergence
from sagan_tf.training.gan import SAGAN
from sagan_tf.training.xla import maybe_jit


def make_step_function(model: SAGAN, strategy: tf.distribute.Strategy, jit_compile: bool = False):
    """A ``tf.function`` running one train step on every replica and averaging the logs.

    ``jit_compile``: compile the replica step with XLA where possible (``sagan_tf.training.xla.maybe_jit``).
    """
    train_step, _ = maybe_jit(model.train_step, strategy, jit_compile)

    @tf.function
    def step_fn(iterator):
        per_replica = strategy.run(train_step, args=(next(iterator),))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per_replica.items()}

    return step_fn


def make_agreement(strategy: tf.distribute.Strategy):
    """A ``tf.function`` summing a vector of per-process flags over every replica of every worker.

    Called by every worker after the same step, it gives all of them the same sums: one small
    all-reduce, the same collective the step itself uses for gradients.
    """

    @tf.function
    def agree(flags):
        # A new tensor per replica: an input returned as is would not be reduced across workers.
        per_replica = strategy.run(tf.identity, args=(flags,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    return agree


def signals_to_stop(stop_requests: interrupts.StopRequests, agree=None) -> list[int]:
    """The signals that end training now: this process's own, or with ``agree`` (several processes)
    those any worker received by this point, identical on every worker."""
    if agree is None:
        return list(stop_requests.received)
    counts = agree(tf.constant(stop_requests.flags(), tf.float32)).numpy()
    return [s for s, n in zip(interrupts.SIGNALS, counts, strict=True) if n > 0]


def train(
    model: SAGAN,
    dataset: tf.data.Dataset,
    strategy: tf.distribute.Strategy,
    steps: int,
    callbacks: list[keras.callbacks.Callback] = (),
    verbose: int = 1,
    jit_compile: bool = False,
    stop_requests: interrupts.StopRequests = interrupts.NEVER,
) -> dict[str, float]:
    """Runs ``steps`` training steps; returns the last step's logs.

    Raises ``interrupts.Interrupted`` after a step (not the last) when ``stop_requests`` has received
    a signal, in this process or, under ``multiworker``, in any worker.
    """
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    step_fn = make_step_function(model, strategy, jit_compile)
    agree = make_agreement(strategy) if is_multi_client(strategy) else None
    first = [cb for cb in callbacks if getattr(cb, "always_runs", False)]
    rest = [cb for cb in callbacks if not getattr(cb, "always_runs", False)]
    always = keras.callbacks.CallbackList(
        first, add_history=False, add_progbar=verbose > 0, model=model, verbose=verbose, epochs=1, steps=steps
    )
    stoppable = keras.callbacks.CallbackList(rest, add_history=False, add_progbar=False, model=model, epochs=1, steps=steps)

    def unless_stopped(call, *args):
        """``call(*args)`` on the stoppable callbacks, skipped or cut short by a signal."""
        with contextlib.suppress(interrupts.CallbacksStopped), stop_requests.stoppable():
            call(*args)

    logs: dict[str, float] = {}
    always.on_train_begin()
    stoppable.on_train_begin()
    always.on_epoch_begin(0)
    stoppable.on_epoch_begin(0)
    try:
        for batch in range(steps):
            always.on_train_batch_begin(batch)
            stoppable.on_train_batch_begin(batch)
            logs = {k: float(v) for k, v in step_fn(iterator).items()}
            stop_requests.start_training()  # a step has run: from now on a signal waits for the step's end
            reason = divergence(logs)
            if reason:
                raise DivergenceError(
                    f"training diverged at step {int(model.step.numpy())}: {reason}; the last checkpoint is kept"
                )
            always.on_train_batch_end(batch, logs)
            unless_stopped(stoppable.on_train_batch_end, batch, logs)
            signals = signals_to_stop(stop_requests, agree)
            if signals and batch < steps - 1:
                always.on_epoch_end(0, logs)  # the epoch ends early; the progress bar ends its line
                raise interrupts.Interrupted(int(model.step.numpy()), signals, here=bool(stop_requests.received))
        always.on_epoch_end(0, logs)
        unless_stopped(stoppable.on_epoch_end, 0, logs)
    finally:
        always.on_train_end(logs)  # the checkpoint of the last step
        unless_stopped(stoppable.on_train_end, logs)
    return logs
