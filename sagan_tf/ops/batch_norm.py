"""Batch normalization without affine parameters, as conditional batch norm uses it (``ops_choice``:
``batch_norm``).

In training the activations are normalized with the batch's statistics over every axis but the
channels (Ioffe & Szegedy 2015, Algorithm 1, without gamma and beta; conditional batch norm applies
its per-class affine afterwards):

    x_hat = (x - mean_B) / sqrt(var_B + eps)

and the batch's mean and (biased) variance are returned for the moving averages. float16 and
bfloat16 inputs are normalized in float32 and the result cast back.

* ``reference``: the moments as reductions, then the normalization, as Keras' ``BatchNormalization``
  computes it; ``synchronized=True`` takes the moments over the global batch of every replica of a
  ``tf.distribute`` strategy (one all-reduce), so N devices normalize exactly as one.
* ``fast``: TensorFlow's fused kernel (``FusedBatchNormV3``: one pass for the statistics and one for
  the normalization, forward and backward). It computes a local batch's statistics only: where they
  are synchronized over several replicas, or the input is not 4-D float, the reference form runs.

``batch_norm_inference`` normalizes with given (moving) statistics, the inference form.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.ops.forms import is_fast

FUSED_DTYPES = (tf.float32, tf.bfloat16, tf.float16)


def _float32_or_wider(x: tf.Tensor) -> tf.Tensor:
    return tf.cast(x, keras.backend.result_type(x.dtype, "float32"))


def reference_batch_norm(x: tf.Tensor, epsilon: float, synchronized: bool = False):
    inputs = _float32_or_wider(x)
    axes = list(range(x.shape.rank - 1))
    mean, variance = keras.ops.moments(inputs, axes=axes, synchronized=synchronized)
    outputs = keras.ops.batch_normalization(inputs, mean, variance, axis=-1, epsilon=epsilon)
    return tf.cast(outputs, x.dtype), mean, variance


def fast_batch_norm(x: tf.Tensor, epsilon: float):
    channels = int(x.shape[-1])
    normalized, mean, variance = tf.compat.v1.nn.fused_batch_norm(
        x, tf.ones([channels]), tf.zeros([channels]), epsilon=epsilon, is_training=True
    )
    # The kernel returns the unbiased variance (meant for the moving average); the normalization
    # used the biased one, which is what the reference form returns.
    count = tf.cast(tf.size(x) // channels, tf.float32)
    return normalized, mean, variance * (count - 1.0) / tf.maximum(count, 1.0)


def _statistics_are_local(synchronized: bool) -> bool:
    context = tf.distribute.get_replica_context()
    return not (synchronized and context is not None and context.num_replicas_in_sync > 1)


def batch_norm(x: tf.Tensor, epsilon: float, *, synchronized: bool = False, impl: str = "reference"):
    """``(x_hat, mean, variance)``: x normalized with its batch's statistics (x's dtype), and those
    statistics (float32, the variance biased)."""
    fused = x.shape.rank == 4 and x.dtype in FUSED_DTYPES and _statistics_are_local(synchronized)
    if is_fast(impl) and fused:
        return fast_batch_norm(x, epsilon)
    return reference_batch_norm(x, epsilon, synchronized)


def batch_norm_inference(x: tf.Tensor, mean, variance, epsilon: float) -> tf.Tensor:
    """``(x - mean) / sqrt(variance + eps)`` with given statistics, in float32 for float16/bfloat16 x."""
    inputs = _float32_or_wider(x)
    mean, variance = tf.cast(mean, inputs.dtype), tf.cast(variance, inputs.dtype)
    outputs = keras.ops.batch_normalization(inputs, mean, variance, axis=-1, epsilon=epsilon)
    return tf.cast(outputs, x.dtype)
