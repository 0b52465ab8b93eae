"""2x nearest-neighbour upsampling followed by a 3x3 'same' convolution, as one transposed convolution.

G's up-blocks compute ``conv3x3(upsample_nearest(x))`` (official code, BigGAN, StudioGAN). Each
output pixel of that convolution sees a 3x3 window of the upsampled map, which covers only 2x2
distinct input pixels; along one axis, with W the 3 kernel taps and x the low-resolution input:

    out[2m]     = W[0] x[m-1] + (W[1] + W[2]) x[m]
    out[2m + 1] = (W[0] + W[1]) x[m] + W[2] x[m+1]

which is a stride-2 transposed convolution of x with the 4-tap kernel K = (W[2], W[1]+W[2], W[0]+W[1],
W[0]) (output o[p] = sum over 2i + k - 1 = p of K[k] x[i]). In 2-D the 4x4 kernel is the same
folding along both axes. Same result (the taps are summed in float32 before the product), 4 instead
of 9 multiply-adds per output pixel and channel pair, forward and backward, and no upsampled
tensor in memory.
"""

from __future__ import annotations

import tensorflow as tf

# FOLD[r, k] = 1 when tap k of the 3x3 kernel adds into tap r of the transposed kernel:
# K = (W[2], W[1] + W[2], W[0] + W[1], W[0]) along each axis.
FOLD = ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0))


def fold_nearest_upsample(kernel: tf.Tensor) -> tf.Tensor:
    """(3, 3, C_in, C_out) convolution kernel -> (4, 4, C_out, C_in) stride-2 transposed kernel.

    One contraction with a constant 0/1 matrix along each spatial axis (its gradient is the same
    contraction transposed), in the kernel's dtype.
    """
    if tuple(kernel.shape[:2]) != (3, 3):
        raise ValueError(f"folding the upsampling needs a 3x3 kernel, got {tuple(kernel.shape[:2])}")
    fold = tf.constant(FOLD, kernel.dtype)
    return tf.einsum("ra,cb,abio->rcoi", fold, fold, kernel)


def upsample_conv3x3(x: tf.Tensor, folded: tf.Tensor) -> tf.Tensor:
    """``conv3x3_same(upsample_nearest_2x(x))`` for x (B, H, W, C_in) and a folded kernel."""
    height, width, filters = x.shape[1], x.shape[2], folded.shape[2]
    output_shape = tf.stack([tf.shape(x)[0], 2 * height, 2 * width, filters])
    return tf.nn.conv2d_transpose(x, folded, output_shape, strides=2, padding="SAME")
