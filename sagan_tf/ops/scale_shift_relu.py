"""``relu(gamma * x + beta)`` with per-example gamma and beta (``ops_choice``: ``scale_shift_relu``).

In G every conditional batch norm is followed by a ReLU (SAGAN section 4.1 and the official code's
pre-activation blocks: CBN -> ReLU -> conv). With x the normalized activations (B, H, W, C) and
gamma, beta the rows of each example's class (B, C):

    y = relu(gamma[b, c] * x[b, h, w, c] + beta[b, c])

* ``reference``: TensorFlow's multiply, add and ReLU, three passes over the activations forward and
  five backward (ReluGrad, two products, two sums).
* ``fast``: one XLA-compiled loop forward (read x, write y) and, with dz = dy * (y > 0),

      dx = gamma * dz,   dgamma = sum_{h,w} dz * x,   dbeta = sum_{h,w} dz

  as one XLA loop writing dx, dz * x and dz, the two sums over h, w as matmuls with ones
  (``ops.channel_sums``). XLA compiles one kernel per input shape, so this form runs in training
  calls only (``ops_choice.TRAINING_ONLY``).
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf.ops.channel_sums import sum_per_example
from sagan_tf.ops.forms import is_fast


def _per_example(t: tf.Tensor) -> tf.Tensor:
    """(B, C) -> (B, 1, 1, C), to broadcast over the spatial axes."""
    return t[:, None, None, :]


def reference_scale_shift_relu(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) -> tf.Tensor:
    return tf.nn.relu(_per_example(gamma) * x + _per_example(beta))


@tf.function(jit_compile=True)
def _forward(x, gamma, beta):
    return tf.nn.relu(_per_example(gamma) * x + _per_example(beta))


@tf.function(jit_compile=True)
def _backward_elementwise(dy, y, x, gamma):
    """(dx, dz * x, dz) with dz = dy where y > 0, else 0 (ReLU's gradient, 0 at y = 0)."""
    dz = tf.where(y > 0, dy, tf.zeros_like(dy))
    return dz * _per_example(gamma), dz * x, dz


@tf.custom_gradient
def fast_scale_shift_relu(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor):
    y = _forward(x, gamma, beta)

    def grad(dy):
        dx, dz_x, dz = _backward_elementwise(dy, y, x, gamma)
        return dx, sum_per_example(dz_x), sum_per_example(dz)

    return y, grad


def scale_shift_relu(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, *, impl: str = "reference") -> tf.Tensor:
    """``relu(gamma[:, None, None, :] * x + beta[:, None, None, :])`` for x (B, H, W, C) and gamma,
    beta (B, C), all of one dtype."""
    if is_fast(impl):
        return fast_scale_shift_relu(x, gamma, beta)
    return reference_scale_shift_relu(x, gamma, beta)
