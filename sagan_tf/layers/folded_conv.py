"""A 3x3 'same' convolution next to a 2x resampling, folded into one stride-2 convolution.

Both network families of the official code resample next to a 3x3 convolution: G's up-blocks
compute ``conv3x3(upsample_nearest(x))``, D's down-blocks ``avgpool2x2(conv3x3(x))``. Each is one
stride-2 (transposed) convolution with a 4x4 kernel whose taps are sums of the 3x3 taps: the same
values (the taps are summed in float32 before the product), fewer multiply-adds, forward and
backward, and no full-resolution intermediate in memory.

**Upsampling** (G). Each output pixel of the convolution sees a 3x3 window of the upsampled map,
which covers only 2x2 distinct input pixels; along one axis, with W the 3 taps and x the input:

    out[2m]     = W[0] x[m-1] + (W[1] + W[2]) x[m]
    out[2m + 1] = (W[0] + W[1]) x[m] + W[2] x[m+1]

a stride-2 transposed convolution of x with K = (W[2], W[1]+W[2], W[0]+W[1], W[0]) (output
o[p] = sum over 2i + k - 1 = p of K[k] x[i]): 4 instead of 9 multiply-adds per output pixel.

**Average pooling** (D). With c = conv3x3(x) ('same', zero padding) and o[m] = (c[2m] + c[2m+1]) / 2:

    o[m] = sum_j K[j] x[2m + j - 1],   K = (W[0], W[0]+W[1], W[1]+W[2], W[2]) / 2

a stride-2 convolution of x with a 4x4 kernel, padded by one pixel on each side (TensorFlow's
'SAME' for an even size): 16 multiply-adds per pooled output instead of 9 for each of the 4
full-resolution outputs, 2.25x fewer.

In 2-D the 4x4 kernel is the folding along both axes. ``layers.optimizations.textbook_resampling``
restores the textbook order (nominal FLOP counts, TFLite conversion, tests).
"""

from __future__ import annotations

import tensorflow as tf

# FOLD_UP[r, k] = 1 when tap k of the 3x3 kernel adds into tap r of the transposed kernel.
FOLD_UP = ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0))
# FOLD_POOL[r, k]: the weight of tap k of the 3x3 kernel in tap r of the pooled 4x4 kernel.
FOLD_POOL = ((0.5, 0.0, 0.0), (0.5, 0.5, 0.0), (0.0, 0.5, 0.5), (0.0, 0.0, 0.5))


def _check_3x3(kernel: tf.Tensor) -> None:
    if tuple(kernel.shape[:2]) != (3, 3):
        raise ValueError(f"folding needs a 3x3 kernel, got {tuple(kernel.shape[:2])}")


def fold_nearest_upsample(kernel: tf.Tensor) -> tf.Tensor:
    """(3, 3, C_in, C_out) convolution kernel -> (4, 4, C_out, C_in) stride-2 transposed kernel.

    One contraction with a constant 0/1 matrix along each spatial axis (its gradient is the same
    contraction transposed), in the kernel's dtype.
    """
    _check_3x3(kernel)
    fold = tf.constant(FOLD_UP, kernel.dtype)
    return tf.einsum("ra,cb,abio->rcoi", fold, fold, kernel)


def upsample_conv3x3(x: tf.Tensor, folded: tf.Tensor) -> tf.Tensor:
    """``conv3x3_same(upsample_nearest_2x(x))`` for x (B, H, W, C_in) and a folded kernel."""
    height, width, filters = x.shape[1], x.shape[2], folded.shape[2]
    output_shape = tf.stack([tf.shape(x)[0], 2 * height, 2 * width, filters])
    return tf.nn.conv2d_transpose(x, folded, output_shape, strides=2, padding="SAME")


def fold_avgpool(kernel: tf.Tensor) -> tf.Tensor:
    """(3, 3, C_in, C_out) convolution kernel -> (4, 4, C_in, C_out) stride-2 kernel of the
    convolution followed by 2x2 average pooling."""
    _check_3x3(kernel)
    fold = tf.constant(FOLD_POOL, kernel.dtype)
    return tf.einsum("ra,cb,abio->rcio", fold, fold, kernel)


def conv3x3_avgpool(x: tf.Tensor, folded: tf.Tensor) -> tf.Tensor:
    """``avgpool2x2(conv3x3_same(x))`` for x (B, H, W, C_in) with even H, W and a folded kernel."""
    if x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"pooling folded into the convolution needs even sizes, got {tuple(x.shape[1:3])}")
    return tf.nn.conv2d(x, folded, strides=2, padding="SAME")
