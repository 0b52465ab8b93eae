"""Sums over every axis but the channels as matmuls with a row of ones.

Gradients of per-channel parameters are such sums: a bias's gradient sums dy over batch and
space, a per-example batch-norm gain's over space. A (1 x N) @ (N x C) product runs in the
platform's matmul kernel (accumulating bfloat16 in float32) where a ``Sum`` reduction runs an
element-wise loop; the same sums up to the order of the additions. The fast forms of
``ops.bias_add`` and ``ops.scale_shift_relu`` use them in their gradients.
"""

from __future__ import annotations

import tensorflow as tf


def _ones_times(rows: tf.Tensor) -> tf.Tensor:
    """(..., N, C) -> (..., 1, C): the sum over N as a batched matmul with ones (1, N)."""
    ones = tf.ones(tf.concat([tf.shape(rows)[:-2], [1, tf.shape(rows)[-2]]], 0), rows.dtype)
    return tf.matmul(ones, rows)


def sum_per_example(t: tf.Tensor) -> tf.Tensor:
    """(B, ..., C) -> (B, C): the sum over every axis but the first and the last."""
    flat = tf.reshape(t, [tf.shape(t)[0], -1, t.shape[-1]])
    return _ones_times(flat)[:, 0, :]


def sum_per_channel(t: tf.Tensor) -> tf.Tensor:
    """(..., C) -> (C,): the sum over every axis but the last."""
    return _ones_times(tf.reshape(t, [-1, t.shape[-1]]))[0]
