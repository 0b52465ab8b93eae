"""The augmentation probability ``p``, fixed or adaptive (ADA: Karras et al. 2020, "Training
Generative Adversarial Networks with Limited Data", section 3).

ADA's overfitting heuristic ``r_t = E[sign(D(x_real))]`` is 0 when D scores training images like
generated ones and approaches 1 as D memorises the training set. Every ``interval`` steps

    p <- clip(p + sign(r_t - target) * n / (kimg * 1000), 0, 1)

where ``r_t`` is the mean over the ``n`` real images D scored in those steps (all replicas, all D
updates): ``p`` can move from 0 to 1 within ``kimg`` thousand images (ADA's values: target 0.6,
every 4 steps, 500 kimg). With ``target = 0`` the probability stays where it is set.

Distribution: the sums of ``sign(D(x_real))`` are all-reduced over the replicas before they are
added, so every replica holds the same ``p`` and the same ``r_t``; all variables are kept with
``only_first_replica`` aggregation like the step counter, and saved in the checkpoint.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def adjusted_probability(p, rt, target: float, images, kimg: float) -> tf.Tensor:
    """One ADA update of ``p`` given the interval's ``r_t`` over ``images`` real images."""
    step = tf.sign(tf.cast(rt, tf.float32) - target) * tf.cast(images, tf.float32) / (kimg * 1000.0)
    return tf.clip_by_value(tf.cast(p, tf.float32) + step, 0.0, 1.0)


def _state(name: str, value: float) -> keras.Variable:
    return keras.Variable(value, dtype="float32", trainable=False, name=name, aggregation="only_first_replica")


class AugmentProbability:
    """``p`` and ADA's running sums; create it inside the strategy scope of the model.

    Args:
        probability: the initial (with ``target == 0``: the fixed) probability.
        target: ADA's target for ``r_t`` in (0, 1); 0 keeps ``p`` fixed.
        interval: steps between adjustments.
        kimg: thousands of real images over which ``p`` can go from 0 to 1.
    """

    def __init__(self, probability: float, target: float = 0.0, interval: int = 4, kimg: float = 500.0):
        self.target, self.interval, self.kimg = float(target), int(interval), float(kimg)
        self.probability = _state("augment_p", probability)
        self.sign_sum = _state("ada_sign_sum", 0.0)  # sum of sign(D(x_real)) since the last adjustment
        self.count = _state("ada_count", 0.0)  # real images scored since the last adjustment
        self.rt = _state("ada_rt", 0.0)  # r_t of the last completed interval

    @property
    def adaptive(self) -> bool:
        return self.target > 0

    def variables(self) -> dict[str, keras.Variable]:
        """The state a resumed run needs, by name (for the checkpoint)."""
        return {v.name: v for v in (self.probability, self.sign_sum, self.count, self.rt)}

    def observe(self, real_logits: tf.Tensor) -> None:
        """Adds this D update's ``sign(D(x_real))`` of every replica (call in replica context)."""
        if not self.adaptive:
            return
        ctx = tf.distribute.get_replica_context()
        local = tf.stack([tf.reduce_sum(tf.sign(real_logits)), tf.cast(tf.size(real_logits), tf.float32)])
        total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, local)
        self.sign_sum.assign_add(total[0])
        self.count.assign_add(total[1])

    def end_step(self, step: tf.Tensor) -> None:
        """After step number ``step`` (1-based): every ``interval`` steps, adjust ``p`` and restart the sums."""
        if not self.adaptive:
            return
        due = tf.logical_and(tf.equal(tf.cast(step, tf.int64) % self.interval, 0), self.count > 0)
        rt = self.sign_sum / tf.maximum(self.count, 1.0)
        new_p = adjusted_probability(self.probability, rt, self.target, self.count, self.kimg)
        self.probability.assign(tf.where(due, new_p, tf.convert_to_tensor(self.probability)))
        self.rt.assign(tf.where(due, rt, tf.convert_to_tensor(self.rt)))
        self.sign_sum.assign(tf.where(due, 0.0, tf.convert_to_tensor(self.sign_sum)))
        self.count.assign(tf.where(due, 0.0, tf.convert_to_tensor(self.count)))

    def logs(self) -> dict[str, tf.Tensor]:
        values = {"augment_p": tf.convert_to_tensor(self.probability)}
        if self.adaptive:
            values["ada_rt"] = tf.convert_to_tensor(self.rt)
        return values
