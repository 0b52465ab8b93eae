"""Pixel values: uint8 [0, 255] on disk and in pictures, float [-1, 1] in the networks (G ends in tanh)."""

from __future__ import annotations

import tensorflow as tf


def to_model_range(images: tf.Tensor) -> tf.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8(images) -> tf.Tensor:
    """float [-1, 1] -> uint8 [0, 255] (rounded, clipped)."""
    images = tf.cast(images, tf.float32)
    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0, 255), tf.uint8)
