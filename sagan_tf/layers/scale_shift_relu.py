"""``relu(gamma * x + beta)`` with per-example gamma and beta, as one fused kernel each way.

In G, every conditional batch norm is followed by a ReLU (SAGAN section 4.1 and the official
code's pre-activation blocks: CBN -> ReLU -> conv). With x the normalized activations (B, H, W, C)
and gamma, beta the per-example class rows (B, C):

    y = relu(gamma[b, c] * x[b, h, w, c] + beta[b, c])

TensorFlow's own kernels make three passes over the activations for this (Mul, AddV2, Relu) and,
in backward, five (ReluGrad, two Mul, two Sum); on CPU in bfloat16 each of those Eigen passes
converts every element to float32 and back (without the fused kernels, the element-wise work of
G's forward pass took twice as long as its convolutions in bfloat16: ``benchmarks/README.md``).
Here the forward is one XLA-compiled loop (read x, write y) and the backward
(``tf.custom_gradient``), with dz = dy * (y > 0), is

    dx = gamma * dz,   dgamma = sum_{h,w} dz * x,   dbeta = sum_{h,w} dz

as one XLA loop that writes dx, dz * x and dz, and the two sums over h, w as matmuls with ones
(``layers.channel_sums``; XLA's CPU reductions over the middle axes are slower). Same function and
gradient as the unfused ops up to the rounding order (``tests/layers/test_scale_shift_relu.py``:
closed forms in float64).

XLA compiles one kernel per input shape, the first time a shape is seen. Only training calls
use it (``ConditionalBatchNormalization``'s fused path); inference and everything exported run
the plain ops. ``layers.optimizations.disabled("fused_elementwise")`` traces the plain ops instead
(the benchmarks' ablation).
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf.layers.channel_sums import sum_per_example


def _per_example(t: tf.Tensor) -> tf.Tensor:
    """(B, C) -> (B, 1, 1, C), to broadcast over the spatial axes."""
    return t[:, None, None, :]


@tf.function(jit_compile=True)
def _forward(x, gamma, beta):
    return tf.nn.relu(_per_example(gamma) * x + _per_example(beta))


@tf.function(jit_compile=True)
def _backward_elementwise(dy, y, x, gamma):
    """(dx, dz * x, dz) with dz = dy where y > 0, else 0 (ReLU's gradient, 0 at y = 0)."""
    dz = tf.where(y > 0, dy, tf.zeros_like(dy))
    return dz * _per_example(gamma), dz * x, dz


@tf.custom_gradient
def scale_shift_relu(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor):
    """``relu(gamma[:, None, None, :] * x + beta[:, None, None, :])`` for x (B, H, W, C), gamma and
    beta (B, C), all of one dtype; fused kernels forward and backward (module docstring)."""
    y = _forward(x, gamma, beta)

    def grad(dy):
        dx, dz_x, dz = _backward_elementwise(dy, y, x, gamma)
        return dx, sum_per_example(dz_x), sum_per_example(dz)

    return y, grad
