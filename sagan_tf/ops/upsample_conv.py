"""``conv3x3(upsample_nearest(x))``: G's upsampling convolution (``ops_choice``: ``upsample_conv``).

The official code's G block upsamples its features 2x (nearest neighbour) and convolves them with a
3x3 'same' kernel.

* ``reference``: exactly that: resize, then the 3x3 convolution at the doubled resolution.
* ``fast``: one stride-2 transposed convolution of x with a 4x4 kernel whose taps are sums of the
  3x3 taps: the same values, 4 instead of 9 multiply-adds per output pixel forward and backward, and
  no upsampled intermediate in memory. Each output pixel of the convolution sees a 3x3 window of the
  upsampled map, which covers only 2x2 distinct input pixels; along one axis, with W the 3 taps:

      out[2m]     = W[0] x[m-1] + (W[1] + W[2]) x[m]
      out[2m + 1] = (W[0] + W[1]) x[m] + W[2] x[m+1]

  a stride-2 transposed convolution with K = (W[2], W[1]+W[2], W[0]+W[1], W[0]) (output
  o[p] = sum over 2i + k - 1 = p of K[k] x[i]); in 2-D the folding along both axes.

The kernel comes in float32 (spectral norm's ``W / sigma``); the taps are summed in the kernel's
dtype and the result cast to x's dtype, so a bfloat16 step rounds each folded tap once.
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf.ops.forms import is_fast
from sagan_tf.ops.resample import upsample_nearest

# FOLD_UP[r, k] = 1 when tap k of the 3x3 kernel adds into tap r of the transposed kernel.
FOLD_UP = ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0))


def check_3x3(kernel: tf.Tensor) -> None:
    if tuple(kernel.shape[:2]) != (3, 3):
        raise ValueError(f"this op needs a 3x3 kernel, got {tuple(kernel.shape[:2])}")


def fold_nearest_upsample(kernel: tf.Tensor) -> tf.Tensor:
    """(3, 3, C_in, C_out) convolution kernel -> (4, 4, C_out, C_in) stride-2 transposed kernel: one
    contraction with a constant 0/1 matrix along each spatial axis, in the kernel's dtype."""
    check_3x3(kernel)
    fold = tf.constant(FOLD_UP, kernel.dtype)
    return tf.einsum("ra,cb,abio->rcoi", fold, fold, kernel)


def reference_upsample_conv3x3(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    check_3x3(kernel)
    return tf.nn.conv2d(upsample_nearest(x), tf.cast(kernel, x.dtype), strides=1, padding="SAME")


def transposed_conv_folded(x: tf.Tensor, folded: tf.Tensor) -> tf.Tensor:
    """The stride-2 transposed convolution of x with a kernel of ``fold_nearest_upsample``."""
    output_shape = tf.stack([tf.shape(x)[0], 2 * x.shape[1], 2 * x.shape[2], folded.shape[2]])
    return tf.nn.conv2d_transpose(x, folded, output_shape, strides=2, padding="SAME")


def fast_upsample_conv3x3(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    return transposed_conv_folded(x, tf.cast(fold_nearest_upsample(kernel), x.dtype))


def upsample_conv3x3(x: tf.Tensor, kernel: tf.Tensor, *, impl: str = "reference") -> tf.Tensor:
    """``conv3x3_same(upsample_nearest_2x(x), kernel)`` for x (B, H, W, C_in) with static H, W and a
    (3, 3, C_in, C_out) kernel; no bias."""
    if is_fast(impl):
        return fast_upsample_conv3x3(x, kernel)
    return reference_upsample_conv3x3(x, kernel)
