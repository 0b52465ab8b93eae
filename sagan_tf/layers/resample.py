"""2x resampling of the residual blocks: nearest-neighbour upsampling (G) and average pooling (D).

Upsampling goes through ``tf.image.resize`` (it converts to the TFLite builtin
RESIZE_NEAREST_NEIGHBOR with a dynamic batch, unlike ``keras.layers.UpSampling2D``). Its gradient,
the sum of each 2x2 block of dy, is computed as ``4 * avg_pool2d(dy)``: the same values (the scale
by 4 is exact), through the platform's pooling kernel (oneDNN on CPU), 6x faster here than
TensorFlow's ``ResizeNearestNeighborGrad``, which XLA:CPU cannot compile at all.

``add_upsampled(h, s, fused=True)`` is G's residual sum ``h + up2(s)`` (the shortcut is upsampled
after its 1x1 convolution, ``layers.folded_conv``) as one XLA-compiled loop that reads each input
once, where TensorFlow's kernels write the upsampled shortcut and read it back (5x slower on CPU).
G's blocks fuse it in training; inference and everything exported use the plain ops.
"""

from __future__ import annotations

import tensorflow as tf


def downsample_avg(x: tf.Tensor) -> tf.Tensor:
    """2x2 average pooling, stride 2."""
    return tf.nn.avg_pool2d(x, 2, 2, "VALID")


def _sum_2x2_blocks(dy: tf.Tensor) -> tf.Tensor:
    """(B, 2H, 2W, C) -> (B, H, W, C): the sum of each 2x2 block (up2's gradient)."""
    return 4.0 * downsample_avg(dy)


@tf.custom_gradient
def upsample_nearest(x: tf.Tensor):
    """2x nearest-neighbour upsampling of (B, H, W, C) with static H, W."""

    def grad(dy):
        return _sum_2x2_blocks(dy)

    return tf.image.resize(x, [2 * x.shape[1], 2 * x.shape[2]], method="nearest"), grad


@tf.function(jit_compile=True)
def _add_upsampled_kernel(h, s):
    batch, height, width, channels = tf.shape(s)[0], s.shape[1], s.shape[2], s.shape[3]
    up = tf.broadcast_to(s[:, :, None, :, None, :], [batch, height, 2, width, 2, channels])
    return h + tf.reshape(up, [batch, 2 * height, 2 * width, channels])


@tf.custom_gradient
def _add_upsampled_fused(h: tf.Tensor, s: tf.Tensor):
    def grad(dy):
        return dy, _sum_2x2_blocks(dy)

    return _add_upsampled_kernel(h, s), grad


def add_upsampled(h: tf.Tensor, s: tf.Tensor, fused: bool = False) -> tf.Tensor:
    """``h + upsample_nearest(s)`` for h (B, 2H, 2W, C) and s (B, H, W, C) of one dtype."""
    if fused:
        return _add_upsampled_fused(h, s)
    return h + upsample_nearest(s)
