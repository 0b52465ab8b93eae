"""The distributed training loop around ``SAGAN.train_step``, for every ``tf.distribute`` strategy.

``model.fit`` works for the default and mirrored strategies, but not under
``MultiWorkerMirroredStrategy`` on Keras 3.15 (keras-team/keras#20585), so the command-line trainer
runs this small loop instead: ``strategy.run(model.train_step)`` on a distributed dataset inside
one ``tf.function``, the replicas' logs averaged, Keras callbacks and progress bar around it.
After every step the losses are checked: a NaN or Inf stops training with a ``DivergenceError``
naming the step, before any callback (checkpoint) sees the broken state (``divergence``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

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


def train(
    model: SAGAN,
    dataset: tf.data.Dataset,
    strategy: tf.distribute.Strategy,
    steps: int,
    callbacks: list[keras.callbacks.Callback] = (),
    verbose: int = 1,
    jit_compile: bool = False,
) -> dict[str, float]:
    """Runs ``steps`` training steps; returns the last step's logs."""
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    step_fn = make_step_function(model, strategy, jit_compile)
    callback_list = keras.callbacks.CallbackList(
        list(callbacks), add_history=False, add_progbar=verbose > 0, model=model, verbose=verbose, epochs=1, steps=steps
    )
    logs: dict[str, float] = {}
    callback_list.on_train_begin()
    callback_list.on_epoch_begin(0)
    try:
        for batch in range(steps):
            callback_list.on_train_batch_begin(batch)
            logs = {k: float(v) for k, v in step_fn(iterator).items()}
            reason = divergence(logs)
            if reason:
                raise DivergenceError(
                    f"training diverged at step {int(model.step.numpy())}: {reason}; the last checkpoint is kept"
                )
            callback_list.on_train_batch_end(batch, logs)
        callback_list.on_epoch_end(0, logs)
    finally:
        callback_list.on_train_end(logs)
    return logs
