"""``SAGAN``: the adversarial training step (paper section 4) as a ``keras.Model``.

One call of ``train_step`` on a batch of real ``(x, y)`` performs ``d_steps`` discriminator updates
on the hinge loss (paper eq. 4, section 4.1)

    L_D = E[max(0, 1 - D(x, y))] + E[max(0, 1 + D(G(z, y), y))]

and one generator update on ``L_G = -E[D(G(z, y), y)]``, with separate optimizers (TTUR,
section 4.2: Adam b1=0, lr_G=1e-4, lr_D=4e-4).

Distribution: losses are sums over the replica's examples divided by the *global* batch, because
``apply_gradients`` under a ``tf.distribute`` strategy sums the replicas' gradients. The noise z is
drawn for the global batch from a stateless RNG keyed on ``(seed, step, phase)`` and each replica
takes its own slice, so a step on N replicas equals a step on one device with the same global batch,
replicas never share noise, and a resumed run draws exactly the noise an uninterrupted one would.

Generated labels are the labels of the real batch, i.e. draws from the data's class distribution.

Gradient accumulation (``accumulate`` K > 1, ``training.accumulation``): each D update and the G
update split their batch into K micro-batches (z as drawn for the whole batch, in order), sum the
micro-batches' gradients and apply them once. D's fakes (made without gradient) and their and the
real images' augmentation are drawn for the whole batch, so D's update is the whole batch's. Spectral
norm's ``u`` and batch norm's moving statistics move once per update; G's batch norm normalizes each
micro-batch of G's update with its own statistics, and G's augmentation draws of micro-batch k > 0
come from the key of the phase folded with k.

Small data (all off by default): with an ``augment_policy`` every image D sees, real and generated,
in D's and in G's loss, passes through the same differentiable augmentation (DiffAugment,
``sagan_tf.augment``), G's gradient flowing through it; its probability is fixed or adapted by ADA
(``training.adaptive``). Its random draws come from the stateless RNG keyed on
``(seed, step, phase, real|fake)``, made for the global batch and sliced per replica like z, so real
and generated batches are augmented independently and N replicas compute what one device would.
With ``lecam`` enabled D's loss adds ``lecam_weight * R_LC`` (``training.lecam``).

Mode seeking (``mode_seeking`` lambda > 0, ``training.mode_seeking``): G's update gives each odd
example its even neighbour's label and G's loss adds ``lambda * L_ms`` over these pairs, which
pushes apart the images of two codes of the same class.

EMA: with an ``ema`` (``sagan_tf.training.ema.GeneratorEMA``) the shadow generator is updated once after each
generator update.

Running state: each network's spectral-norm ``u`` and batch-norm moving statistics advance once per
update of that network. D scores real and fake images in one concatenated call; G's state is frozen
while it produces the fakes for the D updates, and D's while it scores the fakes for the G update
(``layers.running_state.frozen_state``).

Steps: ``step`` counts calls of ``train_step``: each consumes one batch and one draw of noise, and
``train.steps``, checkpoints, callbacks and the replay of the input pipeline all count it. With
dynamic loss scaling (``mixed_float16``) an update whose gradients are not finite on some replica
is skipped on every replica (``loss_scaling``): the network's weights, optimizer slots, running
state and (for G) the EMA shadow stay as they were, the scale halves, and the step still counts.
Such steps are logged as ``d_skipped`` / ``g_skipped`` (the fraction of that network's updates
skipped in the step) beside ``loss_scale_d`` / ``loss_scale_g``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf import augment as diffaugment
from sagan_tf.layers.running_state import frozen_state
from sagan_tf.models import Discriminator, Generator
from sagan_tf.training.accumulation import accumulated_update, micro_slice
from sagan_tf.training.adaptive import AugmentProbability
from sagan_tf.training.freeze_d import frozen_variables
from sagan_tf.training.lecam import LeCamAnchors
from sagan_tf.training.loss_scaling import is_loss_scaled, replica_safe
from sagan_tf.training.mode_seeking import ClassSpread, mode_seeking_penalty, pair_ratios, paired_labels

REAL, FAKE = 0, 1  # the augmentation's random streams
_AUGMENT_KEY = 0x5A6A  # folded into the noise key: augmentation draws never reuse z's


def hinge_d_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-example hinge terms max(0, 1 - D(x)) and max(0, 1 + D(G(z)))."""
    return tf.nn.relu(1.0 - real_logits), tf.nn.relu(1.0 + fake_logits)


def hinge_g_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Per-example generator hinge loss -D(G(z))."""
    return -fake_logits


class SAGAN(keras.Model):
    """Holds G and D; ``compile(g_optimizer=..., d_optimizer=...)`` then ``fit`` or ``sagan_tf.training.loop``.

    Args:
        generator, discriminator: the networks (``sagan_tf.models``).
        d_steps: discriminator updates per generator update; each consumes ``1/d_steps`` of the
            batch that ``train_step`` receives.
        seed: seed of the stateless noise stream.
        ema: optional ``GeneratorEMA`` of ``generator``, updated after every generator update.
        augment_policy: DiffAugment operations (``augment.parse_policy``); empty: no augmentation.
        augment_probability: its ``AugmentProbability`` (fixed or ADA); default: fixed at 1.
        lecam: ``LeCamAnchors``; default: off.
        accumulate: micro-batches per update (``training.accumulation``); each replica's batch of
            an update must divide by it.
        freeze_d: D's first blocks kept fixed (``training.freeze_d``, FreezeD).
        mode_seeking: weight of the mode-seeking term in G's loss (``training.mode_seeking``); 0: off.
            G's batch of an update (each micro-batch, each replica's share) must be even.
        class_spread: ``ClassSpread``: measure each pair's ratio in units of its class's real spread
            (``train.mode_seeking_per_class``); default: plain ratios.
    """

    def __init__(
        self, generator: Generator, discriminator: Discriminator, d_steps: int = 1, seed: int = 0, ema=None,
        augment_policy: tuple[str, ...] = (), augment_probability: AugmentProbability | None = None,
        lecam: LeCamAnchors | None = None, accumulate: int = 1, freeze_d: int = 0, mode_seeking: float = 0.0,
        class_spread: ClassSpread | None = None, **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.d_steps = int(d_steps)
        self.accumulate = int(accumulate)
        self.freeze_d = int(freeze_d)
        self.mode_seeking = float(mode_seeking)
        self.class_spread = class_spread
        self.frozen_d: list = []  # D's variables that FreezeD keeps (set in ``compile``)
        self.seed = int(seed)
        self.ema = ema
        self.augment_policy = tuple(augment_policy)
        # Created even when off, so that every checkpoint has the same structure.
        self.augment_probability = augment_probability or AugmentProbability(1.0)
        self.lecam = lecam or LeCamAnchors(0.0)
        # Created under the caller's strategy scope, identical on every replica.
        self.step_counter = self.add_weight(
            name="step", shape=(), dtype="int64", initializer="zeros", trainable=False, aggregation="only_first_replica"
        )
        self.built = True

    @property
    def sampling_generator(self) -> Generator:
        """The generator to sample from: the EMA shadow when there is one, else G."""
        return self.ema.generator if self.ema is not None else self.generator

    def compile(self, g_optimizer: keras.optimizers.Optimizer, d_optimizer: keras.optimizers.Optimizer, **kwargs):
        """Stores the two optimizers and builds their slots (call inside the strategy scope).

        A plain ``keras.optimizers.LossScaleOptimizer`` is replaced by
        ``loss_scaling.ReplicaSafeLossScaleOptimizer`` with the same settings (see there why).
        """
        kwargs.setdefault("jit_compile", False)
        super().compile(**kwargs)
        g_optimizer, d_optimizer = replica_safe(g_optimizer), replica_safe(d_optimizer)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        for net in (self.generator, self.discriminator):
            if not net.built:
                net.build()
        g_optimizer.build(self.generator.trainable_variables)
        d_optimizer.build(self.discriminator.trainable_variables)
        self.frozen_d = frozen_variables(self.discriminator, self.freeze_d)

    @property
    def step(self) -> keras.Variable:
        """Completed training steps (calls of ``train_step``, skipped float16 updates included)."""
        return self.step_counter

    def _key(self, phase, step=None) -> tf.Tensor:
        """The stateless RNG key of ``(seed, step, phase)``."""
        step = tf.cast(self.step if step is None else step, tf.int64)
        counter = step * (self.d_steps + 1) + tf.cast(phase, tf.int64)
        return tf.stack([tf.constant(self.seed, tf.int64), counter])

    def noise(self, batch: int, phase: int | tf.Tensor, step=None) -> tf.Tensor:
        """This replica's slice of the global batch's z for ``(seed, step, phase)``."""
        replicas, start = _replica_share(batch)
        z_all = tf.random.stateless_normal([batch * replicas, self.generator.z_dim], seed=self._key(phase, step))
        return z_all[start : start + batch]

    def augment(self, images: tf.Tensor, phase, stream: int, step=None, micro: int = 0) -> tf.Tensor:
        """``images`` (this replica's) augmented with the draws of ``(seed, step, phase, stream)``,
        ``stream`` being ``REAL`` or ``FAKE`` (and micro-batch ``micro`` > 0 of an accumulated update);
        the images themselves without an ``augment_policy``."""
        if not self.augment_policy:
            return images
        batch = tf.shape(images)[0]
        replicas, start = _replica_share(batch)
        key = tf.random.experimental.stateless_fold_in(self._key(phase, step), _AUGMENT_KEY + stream)
        if micro:
            key = tf.random.experimental.stateless_fold_in(key, micro)
        draws = diffaugment.draw(batch * replicas, images.shape[1], images.shape[2], key,
                                 self.augment_probability.probability)
        return diffaugment.augment(images, diffaugment.slice_draws(draws, start, batch), self.augment_policy)

    def d_loss(self, real, fake, labels, global_batch, phase, step=None, augmented: bool = False
               ) -> tuple[tf.Tensor, dict]:
        """D's loss on a real and a generated batch: (this replica's share of the global mean, logs).

        The logs hold ``real_logits`` and ``fake_logits`` too (for ADA and the LeCam anchors).
        ``augmented``: the images passed the augmentation already.
        """
        if not augmented:
            real = self.augment(real, phase, REAL, step)
            fake = self.augment(fake, phase, FAKE, step)
        logits = self.discriminator((tf.concat([real, fake], 0), tf.concat([labels, labels], 0)), training=True)
        real_logits, fake_logits = tf.split(tf.cast(logits, tf.float32), 2)
        loss_real, loss_fake = hinge_d_loss(real_logits, fake_logits)
        total = (tf.reduce_sum(loss_real) + tf.reduce_sum(loss_fake)) / global_batch
        if self.lecam.enabled:
            total += self.lecam.weight * self.lecam.penalty(real_logits, fake_logits, global_batch)
        return total, self.d_logs(real_logits, fake_logits, global_batch)

    def d_logs(self, real_logits, fake_logits, global_batch) -> dict:
        """D's logs of an update: this replica's mean hinge terms and logits (and LeCam penalty), and
        the logits themselves as ``real_logits`` and ``fake_logits``."""
        loss_real, loss_fake = hinge_d_loss(real_logits, fake_logits)
        logs = {
            "d_loss": tf.reduce_mean(loss_real) + tf.reduce_mean(loss_fake),
            "d_real": tf.reduce_mean(real_logits),
            "d_fake": tf.reduce_mean(fake_logits),
            "real_logits": real_logits,
            "fake_logits": fake_logits,
        }
        if self.lecam.enabled:
            penalty = self.lecam.penalty(real_logits, fake_logits, global_batch)
            replicas = global_batch / tf.cast(tf.shape(real_logits)[0], tf.float32)
            logs["lecam"] = penalty * replicas  # this replica's mean
        return logs

    def g_loss(self, labels, z, global_batch, step=None, micro: int = 0) -> tuple[tf.Tensor, dict]:
        """G's hinge loss through D (and the augmentation), plus the mode-seeking term when it is on:
        (this replica's share, logs)."""
        if self.mode_seeking:
            labels = paired_labels(labels)
        fake = self.generator((z, labels), training=True)
        images = fake
        fake = self.augment(fake, self.d_steps, FAKE, step, micro)
        with frozen_state():
            logits = tf.cast(self.discriminator((fake, labels), training=True), tf.float32)
        per_example = hinge_g_loss(logits)
        loss = tf.reduce_sum(per_example) / global_batch
        logs = {"g_loss": tf.reduce_mean(per_example)}
        if self.mode_seeking:
            ratios = pair_ratios(images, z)
            logs["mode_seeking_ratio"] = tf.reduce_mean(ratios)
            if self.class_spread is not None:
                ratios = ratios * self.class_spread.ratio_scale(labels[::2])
            loss += self.mode_seeking * mode_seeking_penalty(ratios, global_batch)
        return loss, logs

    def _d_update(self, real, labels, z, global_batch, phase, step):
        """One D update; with accumulation its fakes and augmentation are drawn for the whole batch
        (no gradient flows into them), so the update is that of the whole batch."""
        n = self.accumulate
        with frozen_state():
            fake = self.generator((z, labels), training=True)
        fake = tf.stop_gradient(tf.cast(fake, real.dtype))
        if n > 1:
            real, fake = self.augment(real, phase, REAL, step), self.augment(fake, phase, FAKE, step)

        def loss(k, _):
            return self.d_loss(micro_slice(real, k, n), micro_slice(fake, k, n), micro_slice(labels, k, n),
                               global_batch, phase, step, augmented=n > 1)

        frozen = {id(v) for v in self.frozen_d}
        kept = [(v, tf.convert_to_tensor(v)) for v in self.frozen_d if not v.trainable]  # FreezeD: u stays
        variables = [v for v in self.discriminator.trainable_variables if id(v) not in frozen]
        applied, micro_logs = accumulated_update(self.d_optimizer, self.discriminator, n, lambda k: None, loss,
                                                 variables)
        for variable, value in kept:
            variable.assign(value)
        if n == 1:
            logs = micro_logs[0]
        else:  # the logs of the whole batch, from its logits
            logs = self.d_logs(*(tf.concat([m[key] for m in micro_logs], 0) for key in ("real_logits", "fake_logits")),
                               global_batch)
        real_logits, fake_logits = logs.pop("real_logits"), logs.pop("fake_logits")
        self.augment_probability.observe(real_logits)
        if self.lecam.enabled:
            self.lecam.update(real_logits, fake_logits, global_batch)
        return applied, logs

    def _g_update(self, labels, z, global_batch, step):
        n = self.accumulate

        def loss(k, _):
            return self.g_loss(micro_slice(labels, k, n), micro_slice(z, k, n), global_batch, step, k)

        applied, micro_logs = accumulated_update(self.g_optimizer, self.generator, n, lambda k: None, loss)
        return applied, {key: tf.add_n([m[key] for m in micro_logs]) / n for key in micro_logs[0]}

    def train_step(self, data):
        images, labels = data
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        batch = tf.shape(images)[0] // self.d_steps
        global_batch = tf.cast(batch * replicas, tf.float32)
        step = tf.convert_to_tensor(self.step)  # read once: the counter moves at the end
        logs, d_applied = {}, []
        for k in range(self.d_steps):
            real = images[k * batch : (k + 1) * batch]
            chunk_labels = labels[k * batch : (k + 1) * batch]
            if self.class_spread is not None:
                self.class_spread.update(real, chunk_labels)
            applied, logs = self._d_update(real, chunk_labels, self.noise(batch, k, step), global_batch, k, step)
            d_applied.append(applied)
        g_applied, g_logs = self._g_update(chunk_labels, self.noise(batch, self.d_steps, step), global_batch, step)
        logs.update(g_logs)
        if self.ema is not None:
            self.ema.update(step + 1, applied=g_applied)
        self.augment_probability.end_step(step + 1)
        self.step.assign_add(1)
        if is_loss_scaled(self.d_optimizer) or is_loss_scaled(self.g_optimizer):
            logs.update(_skip_logs("d", self.d_optimizer, d_applied))
            logs.update(_skip_logs("g", self.g_optimizer, [g_applied]))
        logs.update(self.monitored_values())
        return logs

    def monitored_values(self) -> dict[str, tf.Tensor]:
        """Attention gammas of G and D, both learning rates, the augmentation probability and ADA's
        ``r_t`` (with augmentation), the LeCam anchors (with LeCam), for logging."""
        values = {}
        for prefix, net in (("g", self.generator), ("d", self.discriminator)):
            for layer in net.attention_layers:
                values[f"gamma_{prefix}_{layer.name}"] = tf.convert_to_tensor(layer.gamma)
        values["lr_g"] = tf.convert_to_tensor(self.g_optimizer.learning_rate)
        values["lr_d"] = tf.convert_to_tensor(self.d_optimizer.learning_rate)
        if self.augment_policy:
            values.update(self.augment_probability.logs())
        if self.lecam.enabled:
            values.update(self.lecam.logs())
        return values

    def regularization_state(self) -> dict:
        """The augmentation probability, ADA's sums, the LeCam anchors and (when mode seeking is
        class-relative) the classes' spreads, for the checkpoint."""
        spread = self.class_spread.variables() if self.class_spread is not None else {}
        return {**self.augment_probability.variables(), **self.lecam.variables(), **spread}


def _replica_share(batch) -> tuple[int, tf.Tensor]:
    """(replicas in sync, the first row of this replica's slice of a global batch of per-replica ``batch``)."""
    ctx = tf.distribute.get_replica_context()
    replicas = ctx.num_replicas_in_sync if ctx is not None else 1
    replica = ctx.replica_id_in_sync_group if ctx is not None else 0
    return replicas, tf.cast(replica, tf.int32) * tf.cast(batch, tf.int32)


def _skip_logs(prefix: str, optimizer, applied: list[tf.Tensor]) -> dict[str, tf.Tensor]:
    """``{prefix}_skipped``: the fraction of this step's updates that were skipped; the loss scale."""
    skipped = 1.0 - tf.reduce_mean(tf.cast(tf.stack(applied), tf.float32))
    logs = {f"{prefix}_skipped": skipped}
    if is_loss_scaled(optimizer):
        logs[f"loss_scale_{prefix}"] = tf.convert_to_tensor(optimizer.dynamic_scale)
    return logs
