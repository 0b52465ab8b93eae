"""Sample grids from a generator: fixed inputs (one row per class) and G in inference mode.

Used by the TensorBoard ``samples`` image during training and by ``sagan-sample``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from sagan_tf.data.pixels import to_uint8
from sagan_tf.images import make_grid


def fixed_sample_inputs(z_dim: int, num_classes: int, per_class: int, seed: int = 1234):
    """Fixed z and labels for sample grids: one row per class (8 rows unconditional)."""
    rows = num_classes if num_classes > 0 else 8
    labels = np.repeat(np.arange(rows) if num_classes > 0 else np.zeros(rows, int), per_class).astype(np.int32)
    z = tf.random.stateless_normal([rows * per_class, z_dim], seed=[seed, 0])
    return z, tf.constant(labels), per_class


def sample_grid(generator: keras.Model, z, labels, cols: int, batch_size: int = 256) -> np.ndarray:
    """G(z, labels) in inference mode as one uint8 grid image (H, W, C)."""
    images = []
    for start in range(0, int(z.shape[0]), batch_size):
        out = generator((z[start : start + batch_size], labels[start : start + batch_size]), training=False)
        images.append(to_uint8(out).numpy())
    return make_grid(np.concatenate(images), cols)
