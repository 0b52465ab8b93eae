"""``x + bias``, the bias of every convolution and linear layer (``ops_choice``: ``bias_add``).

* ``reference``: TensorFlow's add; its gradient sums dy over every axis but the channels with a
  ``Sum`` reduction.
* ``fast``: the same add, with the bias's gradient as a matmul with a row of ones
  (``ops.channel_sums``). Training calls only (``ops_choice.TRAINING_ONLY``).
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf.ops.channel_sums import sum_per_channel
from sagan_tf.ops.forms import is_fast


def reference_bias_add(x: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    return x + bias


@tf.custom_gradient
def fast_bias_add(x: tf.Tensor, bias: tf.Tensor):
    def grad(dy):
        return dy, sum_per_channel(dy)

    return x + bias, grad


def bias_add(x: tf.Tensor, bias: tf.Tensor, *, impl: str = "reference") -> tf.Tensor:
    """``x + bias`` for x (..., C) and bias (C,) of one dtype."""
    return fast_bias_add(x, bias) if is_fast(impl) else reference_bias_add(x, bias)
