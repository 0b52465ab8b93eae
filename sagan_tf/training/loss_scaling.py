"""Dynamic loss scaling (``mixed_float16``) with one decision per step for all replicas.

``keras.optimizers.LossScaleOptimizer`` skips an update whose gradients are not finite and halves
its scale. Under ``tf.distribute`` on Keras 3.15 it decides from *one* replica's gradients before
they are summed: ``LossScaleOptimizer._tf_apply`` takes ``check_finite`` of the first local
replica's own gradients inside ``merge_call`` (its comment assumes they are already all-reduced;
Keras' TF optimizer all-reduces them later, inside ``apply``), and the no-merge-call path
(``_common_apply``) lets every replica decide alone. When only another replica (or another worker)
overflows, the summed non-finite gradients are applied everywhere, or the replicas disagree and a
collective in one branch waits forever. Source:
https://github.com/keras-team/keras/blob/v3.15.1/keras/src/optimizers/loss_scale_optimizer.py
(``_tf_apply``, ``_common_apply``, ``check_finite``).

``ReplicaSafeLossScaleOptimizer`` overrides only ``check_finite``: each replica's verdict on its own
gradients is summed over all replicas of all workers (a one-number all-reduce), and the gradients
count as finite only if every replica's are. Every replica then takes the same branch: all apply,
or none changes a weight, a slot or its step counter, and every replica halves its scale. Remove it
when Keras decides on the reduced gradients.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="sagan_tf")
class ReplicaSafeLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """``keras.optimizers.LossScaleOptimizer`` whose skip decision is the same on every replica."""

    def check_finite(self, grads):
        local = super().check_finite(grads)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return local
        overflowed = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.logical_not(local), tf.float32))
        return tf.equal(overflowed, 0.0)


def replica_safe(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """``optimizer`` unchanged, unless it is a plain Keras ``LossScaleOptimizer``: then the same
    scaling (inner optimizer, initial scale, growth interval) with the replica-safe decision."""
    if type(optimizer) is not keras.optimizers.LossScaleOptimizer:
        return optimizer
    if optimizer.built:
        raise ValueError("pass the LossScaleOptimizer to SAGAN.compile before it is built")
    return ReplicaSafeLossScaleOptimizer(
        optimizer.inner_optimizer,
        initial_scale=optimizer.initial_scale,
        dynamic_growth_steps=optimizer.dynamic_growth_steps,
        name=optimizer.name,
    )


def is_loss_scaled(optimizer: keras.optimizers.Optimizer) -> bool:
    return isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
