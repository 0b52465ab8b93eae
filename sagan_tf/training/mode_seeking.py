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

Class-relative (``train.mode_seeking_per_class``): ``1 / r`` pushes hardest where images are close
in pixels, so a class whose real images differ little from each other (trousers, sneakers) is
spread beyond its real spread while a varied one (bags, shirts) hardly moves. Each pair's ratio is
measured instead in units of its class's real spread,

    r_y = r * s_mean / s_y,   s_y = E[d_I(x1, x2)] over two real images x1, x2 of class y,

``s_mean`` the mean over the classes seen (``ClassSpread``), so the weight keeps its scale and every
class is pushed alike relative to its own spread.
"""

from __future__ import annotations

import keras
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


OFFSETS = 8  # real pairs per image and update: (i, i + k mod n) for k = 1 .. OFFSETS


class ClassSpread:
    """``s_y`` of each class, estimated from the real images of every D update: the mean ``d_I`` of
    the pairs ``(i, i + k mod n)``, ``0 < k <= OFFSETS``, ``k < n``, of one class among each replica's
    ``n`` images, summed over the replicas (all-reduced, so every replica holds the same values) and
    averaged over updates with ``decay`` (the first estimate of a class taken as it is). With N
    replicas the pairs are formed within each replica's share, so the estimate differs from one
    device's by the sampling of pairs, not in expectation. Create inside the strategy scope of the
    model; the values are saved in the checkpoint."""

    def __init__(self, num_classes: int, decay: float = 0.99):
        self.num_classes = max(int(num_classes), 1)
        self.decay = float(decay)
        self.spread = _state("mode_seeking_class_spread", self.num_classes)
        self.updates = _state("mode_seeking_class_updates", self.num_classes)

    def variables(self) -> dict:
        return {v.name: v for v in (self.spread, self.updates)}

    def update(self, real: tf.Tensor, labels: tf.Tensor) -> None:
        """Moves each class's ``s_y`` toward this update's pairs of it (call in replica context)."""
        x = tf.reshape(tf.cast(real, tf.float32), [tf.shape(real)[0], -1])
        y = tf.reshape(tf.cast(labels, tf.int32), [-1])
        n = tf.shape(x)[0]
        sums = tf.zeros([self.num_classes])
        counts = tf.zeros([self.num_classes])
        for k in range(1, OFFSETS + 1):  # k < n: an image is not paired with itself
            other, other_y = tf.roll(x, -k, axis=0), tf.roll(y, -k, axis=0)
            same = tf.cast(tf.equal(y, other_y) & (k < n), tf.float32)
            distance = tf.reduce_mean(tf.abs(x - other), axis=1)
            sums += tf.math.unsorted_segment_sum(distance * same, y, self.num_classes)
            counts += tf.math.unsorted_segment_sum(same, y, self.num_classes)
        ctx = tf.distribute.get_replica_context()
        both = tf.stack([sums, counts])
        if ctx is not None:
            both = ctx.all_reduce(tf.distribute.ReduceOp.SUM, both)
        seen = both[1] > 0
        mean = both[0] / tf.maximum(both[1], 1.0)
        old = tf.convert_to_tensor(self.spread)
        decay = tf.where(self.updates > 0, self.decay, 0.0)
        self.spread.assign(tf.where(seen, decay * old + (1.0 - decay) * mean, old))
        self.updates.assign_add(tf.cast(seen, tf.float32))

    def ratio_scale(self, labels: tf.Tensor) -> tf.Tensor:
        """``s_mean / s_y`` of each label (1 for a class not seen yet)."""
        spread = tf.convert_to_tensor(self.spread)
        known = spread > 0
        mean = tf.reduce_sum(tf.where(known, spread, 0.0)) / tf.maximum(tf.reduce_sum(tf.cast(known, tf.float32)), 1.0)
        own = tf.gather(spread, tf.cast(labels, tf.int32))
        return tf.where(own > 0, mean / tf.maximum(own, 1e-12), 1.0)


def _state(name: str, size: int) -> keras.Variable:
    return keras.Variable(tf.zeros([size]), dtype="float32", trainable=False, name=name,
                          aggregation="only_first_replica")
