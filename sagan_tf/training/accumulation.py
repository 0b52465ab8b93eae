"""One optimizer update of a network from the summed gradients of K micro-batches (``train.accumulate``).

As BigGAN-PyTorch's ``--num_D_accumulations`` / ``--num_G_accumulations``, StyleGAN2-ADA's
``--batch`` over ``--batch-gpu`` and diffusers' ``--gradient_accumulation_steps``: the batch of an
update is split into ``K`` equal micro-batches, each micro-batch's loss (its share of the loss of the
whole global batch, so the shares add up to it) is differentiated on its own, the gradients are
summed and the optimizer takes one step. Only one micro-batch's activations are alive at a time: each
micro-batch starts after the previous one's gradients exist (``tf.control_dependencies``).

Running state (``layers.running_state``) moves once per update, as without accumulation:

* spectral norm: every micro-batch runs the power iteration from the ``u`` the update started
  from, so every micro-batch divides by the same ``sigma`` with the same gradient through it, and
  ``u`` ends one power iteration on (Miyato et al., Algorithm 1: one per update), not K;
* batch norm normalizes each micro-batch with that micro-batch's own statistics (as in
  BigGAN-PyTorch: not the statistics of the whole batch), and its moving averages take one step,
  from the first micro-batch's statistics.

So for a network without batch norm (D) the update is that of the whole batch up to float rounding
(``tests/training/test_accumulation.py``); G's differs by the batch-norm statistics alone.

With a loss-scaled optimizer an update whose summed gradients are not finite is skipped as a whole
(``loss_scaling``), its running state put back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from sagan_tf.training.loss_scaling import is_loss_scaled


def running_state(network: keras.Model) -> list[tuple[keras.Variable, tf.Tensor]]:
    """(variable, current value) for every float non-trainable variable: SN ``u``, BN statistics."""
    return [(v, tf.convert_to_tensor(v)) for v in network.non_trainable_variables if tf.as_dtype(v.dtype).is_floating]


def _put(state: Sequence[tuple[keras.Variable, tf.Tensor]]) -> list:
    return [variable.assign(value) for variable, value in state]


def accumulated_update(
    optimizer, network: keras.Model, micro_batches: int,
    prepare: Callable[[int], object], compute_loss: Callable[[int, object], tuple[tf.Tensor, dict]],
    variables: Sequence | None = None,
) -> tuple[tf.Tensor, list[dict]]:
    """One update of ``network``: for each micro-batch ``k`` in ``range(micro_batches)``,
    ``inputs = prepare(k)`` (outside the gradient tape: what needs no gradient, such as the fakes of D's
    update) and ``compute_loss(k, inputs) -> (loss, logs)``; one ``apply_gradients`` of the sum.

    Returns (whether the update was applied, the logs of every micro-batch). ``micro_batches == 1``
    is exactly the plain update. ``variables``: the ones to update (default: all trainable ones).
    """
    scaled = is_loss_scaled(optimizer)
    before = running_state(network) if scaled or micro_batches > 1 else []
    variables = list(network.trainable_variables if variables is None else variables)
    total, logs, after_first, previous = None, [], [], []
    for k in range(micro_batches):
        with tf.control_dependencies(previous):  # one micro-batch's activations at a time
            reset = _put(before) if k > 0 else []  # the state this update started from
            with tf.control_dependencies(reset):
                inputs = prepare(k)
                with tf.GradientTape() as tape:
                    loss, micro_logs = compute_loss(k, inputs)
                    scaled_loss = optimizer.scale_loss(loss)
        grads = tape.gradient(scaled_loss, variables)
        logs.append(micro_logs)
        if k == 0 and micro_batches > 1:
            after_first = [(v, tf.convert_to_tensor(v)) for v, _ in before]
        else:
            with tf.control_dependencies([g for g in grads if g is not None]):
                _put(after_first)  # the state moved once: as the first micro-batch moved it
        total = grads if total is None else [_add(a, b) for a, b in zip(total, grads, strict=True)]
        previous = [g for g in grads if g is not None]
    iterations = tf.convert_to_tensor(optimizer.iterations)
    optimizer.apply_gradients(zip(total, variables, strict=True))
    applied = tf.convert_to_tensor(optimizer.iterations) > iterations
    if scaled:
        for variable, old in before:
            variable.assign(tf.where(applied, tf.convert_to_tensor(variable), old))
    return applied, logs


def _add(a, b):
    """The sum of two gradients; of an embedding's (``tf.IndexedSlices``): their rows side by side."""
    if a is None:
        return None
    if isinstance(a, tf.IndexedSlices):
        return tf.IndexedSlices(tf.concat([a.values, b.values], 0), tf.concat([a.indices, b.indices], 0), a.dense_shape)
    return a + b


def micro_slice(x: tf.Tensor, k: int, micro_batches: int) -> tf.Tensor:
    """Micro-batch ``k`` of ``micro_batches`` equal parts of ``x``'s first axis."""
    if micro_batches == 1:
        return x
    size = tf.shape(x)[0] // micro_batches
    return x[k * size : (k + 1) * size]
