"""Mode-seeking regularisation of G (Mao et al. 2019, "Mode Seeking Generative Adversarial Networks
for Diverse Image Synthesis", eq. 3), against mode collapse within a class of a conditional G.

G's update pairs its examples: example ``2i + 1`` of a batch takes the label of example ``2i``, so
each pair is two draws ``z1``, ``z2`` of the same class ``y``. For each pair the ratio of the
images' distance to the codes' distance,

    r = d_I(G(z1, y), G(z2, y)) / d_z(z1, z2),   d = mean absolute difference (L1 / dimension),

should be large (G maps different codes to different images); G's loss adds

    L_ms = E_pairs[ 1 / (r + eps) ],   eps = 1e-5,

with weight ``lambda`` (``train.mode_seeking``), the form of the authors' reference code.
``1 / (r + eps)`` saturates as ``r`` grows, so the term pushes apart the pairs that are close and
leaves the others to the adversarial loss.

The pairs are neighbours, so a batch split into even slices (each replica's share under a strategy,
each micro-batch with accumulation) has the same pairs as the whole batch; each slice must be even.
The penalty is a sum over this replica's pairs divided by the global number of pairs, like the hinge
loss (``training.gan``), so N replicas compute what one device would.
"""

from __future__ import annotations

import tensorflow as tf

EPS = 1e-5


def paired_labels(labels: tf.Tensor) -> tf.Tensor:
    """``labels`` with each odd position given its even neighbour's: ``[y_0, y_0, y_2, y_2, ...]``."""
    return tf.repeat(labels[::2], 2)


def pair_ratios(images: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """``r`` of each pair ``(2i, 2i + 1)``: mean |image difference| / mean |code difference|."""
    images = tf.cast(images, tf.float32)
    z = tf.cast(z, tf.float32)
    image_distance = tf.reduce_mean(tf.abs(images[0::2] - images[1::2]), axis=[1, 2, 3])
    code_distance = tf.reduce_mean(tf.abs(z[0::2] - z[1::2]), axis=1)
    return image_distance / code_distance


def mode_seeking_penalty(ratios: tf.Tensor, global_batch) -> tf.Tensor:
    """``L_ms`` of this replica's pairs (their ``pair_ratios``), as its share of the mean over the
    global batch's pairs."""
    per_pair = 1.0 / (ratios + EPS)
    return tf.reduce_sum(per_pair) / (tf.cast(global_batch, tf.float32) / 2.0)
