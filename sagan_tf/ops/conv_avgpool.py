"""``avgpool2x2(conv3x3(x))``: D's downsampling convolution (``ops_choice``: ``conv_avgpool``).

The official code's D block convolves with a 3x3 'same' kernel and then average-pools 2x2.

* ``reference``: exactly that: the convolution at full resolution, then the pooling.
* ``fast``: one stride-2 convolution of x with a 4x4 kernel (zero padding of one pixel on each
  side, TensorFlow's 'SAME' for an even size): the same values with 16 multiply-adds per pooled
  output instead of 9 for each of the 4 full-resolution outputs (2.25x fewer). Along one axis, with
  c = conv3x3(x) and o[m] = (c[2m] + c[2m+1]) / 2:

      o[m] = sum_j K[j] x[2m + j - 1],   K = (W[0], W[0]+W[1], W[1]+W[2], W[2]) / 2

  in 2-D the folding along both axes.

The kernel comes in float32; the taps are summed in its dtype and the result cast to x's dtype.
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf.ops.forms import is_fast
from sagan_tf.ops.resample import downsample_avg
from sagan_tf.ops.upsample_conv import check_3x3

# FOLD_POOL[r, k]: the weight of tap k of the 3x3 kernel in tap r of the pooled 4x4 kernel.
FOLD_POOL = ((0.5, 0.0, 0.0), (0.5, 0.5, 0.0), (0.0, 0.5, 0.5), (0.0, 0.0, 0.5))


def fold_avgpool(kernel: tf.Tensor) -> tf.Tensor:
    """(3, 3, C_in, C_out) convolution kernel -> (4, 4, C_in, C_out) stride-2 kernel of the
    convolution followed by 2x2 average pooling."""
    check_3x3(kernel)
    fold = tf.constant(FOLD_POOL, kernel.dtype)
    return tf.einsum("ra,cb,abio->rcio", fold, fold, kernel)


def _check_even(x: tf.Tensor) -> None:
    if x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"2x2 pooling needs even sizes, got {tuple(x.shape[1:3])}")


def reference_conv3x3_avgpool(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    check_3x3(kernel)
    _check_even(x)
    return downsample_avg(tf.nn.conv2d(x, tf.cast(kernel, x.dtype), strides=1, padding="SAME"))


def strided_conv_folded(x: tf.Tensor, folded: tf.Tensor) -> tf.Tensor:
    """The stride-2 convolution of x (even H, W) with a kernel of ``fold_avgpool``."""
    _check_even(x)
    return tf.nn.conv2d(x, folded, strides=2, padding="SAME")


def fast_conv3x3_avgpool(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    return strided_conv_folded(x, tf.cast(fold_avgpool(kernel), x.dtype))


def conv3x3_avgpool(x: tf.Tensor, kernel: tf.Tensor, *, impl: str = "reference") -> tf.Tensor:
    """``avgpool2x2(conv3x3_same(x, kernel))`` for x (B, H, W, C_in) with even H, W and a
    (3, 3, C_in, C_out) kernel; no bias."""
    if is_fast(impl):
        return fast_conv3x3_avgpool(x, kernel)
    return reference_conv3x3_avgpool(x, kernel)
