"""Where evaluated images come from: batches of ``num_samples`` images, z untruncated or truncated.

A sampler is called with the index of a batch's first image and the batch's labels and returns
the images in [-1, 1]; the same sampler gives the same images whatever produces them:

* ``LatentSampler``: z ~ N(0, I) drawn as ``tf.random.stateless_normal([n, z_dim], seed=[seed,
  start])`` for the batch of images ``start .. start + n - 1`` (so z depends on the batch size),
  passed with the labels to ``generate(z, labels)``: a run's Keras generator in inference mode, or
  an export's ``serving_default`` signature (the same function, exported).
* ``SeedSampler``: the truncation trick of BigGAN (Brock et al. 2019, section 3.1): image i is
  ``generate_truncated(seed=seed * 2**32 + i, label, truncation)``, the export's signature, whose
  z is a pure function of the per-image seed (``sagan_tf.serving.signatures.z_from_seeds``), or the
  same function traced around a run's generator. Image i of ``--seed 0`` is thus the image a TF
  Serving client (or ``sagan-explore``) gets for seed i at that truncation, whatever the batch size.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

SEED_STRIDE = 2**32  # per-image seeds of --seed s: s * 2**32 + i


class LatentSampler:
    """Images of ``generate(z, labels)`` for untruncated z (module docstring)."""

    truncation = None

    def __init__(self, generate, z_dim: int, seed: int = 0):
        self.generate, self.z_dim, self.seed = generate, int(z_dim), int(seed)

    def __call__(self, start: int, labels: np.ndarray) -> tf.Tensor:
        z = tf.random.stateless_normal([len(labels), self.z_dim], seed=[self.seed, start])
        return self.generate(z, tf.constant(labels, tf.int32))


class SeedSampler:
    """Images of ``generate_truncated(seeds, labels, truncation)`` (module docstring)."""

    def __init__(self, generate_truncated, truncation: float, seed: int = 0):
        self.generate_truncated, self.truncation, self.seed = generate_truncated, float(truncation), int(seed)

    def seeds(self, start: int, count: int) -> np.ndarray:
        return self.seed * SEED_STRIDE + np.arange(start, start + count, dtype=np.int64)

    def __call__(self, start: int, labels: np.ndarray) -> tf.Tensor:
        return self.generate_truncated(
            tf.constant(self.seeds(start, len(labels))), tf.constant(labels, tf.int32),
            tf.constant(self.truncation, tf.float32),
        )


def keras_sampler(generator, seed: int = 0) -> LatentSampler:
    """The ``LatentSampler`` of a Keras generator ``generator((z, labels), training=False)``."""
    sample = tf.function(lambda z, y: generator((z, y), training=False), reduce_retracing=True)
    return LatentSampler(sample, generator.z_dim, seed)
