"""Moved to ``sagan_tf.ops.upsample_conv`` and ``sagan_tf.ops.conv_avgpool``: this path works for one
more release, with the old meaning of each name (``sagan_tf.moved``).

Here ``upsample_conv3x3`` and ``conv3x3_avgpool`` take the *folded* 4x4 kernel (of
``fold_nearest_upsample`` / ``fold_avgpool``); the ops of the same name take the 3x3 kernel and an
``impl`` argument.
"""

import warnings

import tensorflow as tf

from sagan_tf.ops.conv_avgpool import FOLD_POOL, fold_avgpool
from sagan_tf.ops.upsample_conv import FOLD_UP, fold_nearest_upsample

warnings.warn("sagan_tf.layers.folded_conv has moved to sagan_tf.ops.upsample_conv and sagan_tf.ops.conv_avgpool "
              "(their functions take the 3x3 kernel and impl='fast'); import those instead (the old path goes in "
              "the next release)", FutureWarning, stacklevel=2)

__all__ = ["FOLD_POOL", "FOLD_UP", "conv3x3_avgpool", "fold_avgpool", "fold_nearest_upsample", "upsample_conv3x3"]


def upsample_conv3x3(x: tf.Tensor, folded: tf.Tensor) -> tf.Tensor:
    """``conv3x3_same(upsample_nearest_2x(x))`` for x (B, H, W, C_in) and a folded kernel."""
    output_shape = tf.stack([tf.shape(x)[0], 2 * x.shape[1], 2 * x.shape[2], folded.shape[2]])
    return tf.nn.conv2d_transpose(x, folded, output_shape, strides=2, padding="SAME")


def conv3x3_avgpool(x: tf.Tensor, folded: tf.Tensor) -> tf.Tensor:
    """``avgpool2x2(conv3x3_same(x))`` for x (B, H, W, C_in) with even H, W and a folded kernel."""
    if x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"pooling folded into the convolution needs even sizes, got {tuple(x.shape[1:3])}")
    return tf.nn.conv2d(x, folded, strides=2, padding="SAME")
