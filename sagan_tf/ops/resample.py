"""2x resampling of the residual blocks: nearest-neighbour upsampling (G) and average pooling (D).

Upsampling goes through ``tf.image.resize`` (it converts to the TFLite builtin
RESIZE_NEAREST_NEIGHBOR with a dynamic batch, unlike ``keras.layers.UpSampling2D``). Its gradient,
the sum of each 2x2 block of dy, is computed as ``4 * avg_pool2d(dy)``: the same values (the scale
by 4 is exact), through the platform's pooling kernel; TensorFlow's own gradient op
(``ResizeNearestNeighborGrad``) has no XLA:CPU kernel, so a step compiled with XLA needs this form.
"""

from __future__ import annotations

import tensorflow as tf


def downsample_avg(x: tf.Tensor) -> tf.Tensor:
    """2x2 average pooling, stride 2."""
    return tf.nn.avg_pool2d(x, 2, 2, "VALID")


def sum_2x2_blocks(dy: tf.Tensor) -> tf.Tensor:
    """(B, 2H, 2W, C) -> (B, H, W, C): the sum of each 2x2 block (the gradient of ``upsample_nearest``)."""
    return 4.0 * downsample_avg(dy)


@tf.custom_gradient
def upsample_nearest(x: tf.Tensor):
    """2x nearest-neighbour upsampling of (B, H, W, C) with static H, W."""

    def grad(dy):
        return sum_2x2_blocks(dy)

    return tf.image.resize(x, [2 * x.shape[1], 2 * x.shape[2]], method="nearest"), grad
