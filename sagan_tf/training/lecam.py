"""LeCam regularisation of D (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under
Limited Data", eq. 3), as in the authors' reference code:

    R_LC = E_x[ relu(D(x) - a_F)^2 ] + E_z[ relu(a_R - D(G(z)))^2 ]

added to D's loss with weight ``lambda`` (``train.lecam_weight``). The anchors ``a_R`` and ``a_F`` are
exponential moving averages of D's mean output on real and on generated images,

    a <- decay * a + (1 - decay) * mean(D(.)),   the first update taking the mean itself,

updated after every D update with the means over the global batch (all-reduced over the replicas,
so every replica holds the same anchors). The penalty is a sum over this replica's examples divided
by the global batch, like the hinge loss (``training.gan``), so N replicas compute what one device
would. The anchors are saved in the checkpoint.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def lecam_penalty(real_logits, fake_logits, anchor_real, anchor_fake, global_batch) -> tf.Tensor:
    """``R_LC`` of this replica's logits, as its share of the global-batch mean."""
    real_term = tf.square(tf.nn.relu(real_logits - anchor_fake))
    fake_term = tf.square(tf.nn.relu(anchor_real - fake_logits))
    return (tf.reduce_sum(real_term) + tf.reduce_sum(fake_term)) / global_batch


def _state(name: str) -> keras.Variable:
    return keras.Variable(0.0, dtype="float32", trainable=False, name=name, aggregation="only_first_replica")


class LeCamAnchors:
    """The moving anchors ``a_R``, ``a_F``; create inside the strategy scope of the model."""

    def __init__(self, weight: float, decay: float = 0.99):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"LeCam decay must be in [0, 1), got {decay}")
        self.weight, self.decay = float(weight), float(decay)
        self.real = _state("lecam_anchor_real")
        self.fake = _state("lecam_anchor_fake")
        self.updates = _state("lecam_updates")

    @property
    def enabled(self) -> bool:
        return self.weight > 0

    def variables(self) -> dict[str, keras.Variable]:
        return {v.name: v for v in (self.real, self.fake, self.updates)}

    def penalty(self, real_logits, fake_logits, global_batch) -> tf.Tensor:
        return lecam_penalty(real_logits, fake_logits, tf.convert_to_tensor(self.real),
                             tf.convert_to_tensor(self.fake), global_batch)

    def update(self, real_logits, fake_logits, global_batch) -> None:
        """Moves the anchors toward this update's global-batch means (call in replica context)."""
        ctx = tf.distribute.get_replica_context()
        sums = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.stack([tf.reduce_sum(real_logits),
                                                                    tf.reduce_sum(fake_logits)]))
        means = sums / global_batch
        finite = tf.reduce_all(tf.math.is_finite(means))  # a float16 overflow leaves them as they are
        decay = tf.where(self.updates > 0, self.decay, 0.0)
        for anchor, mean in ((self.real, means[0]), (self.fake, means[1])):
            old = tf.convert_to_tensor(anchor)
            anchor.assign(tf.where(finite, decay * old + (1.0 - decay) * mean, old))
        self.updates.assign_add(tf.where(finite, 1.0, 0.0))

    def logs(self) -> dict[str, tf.Tensor]:
        return {"lecam_anchor_real": tf.convert_to_tensor(self.real),
                "lecam_anchor_fake": tf.convert_to_tensor(self.fake)}
