"""Networks, optimizers and the compiled ``SAGAN`` from a ``Config`` (call inside a strategy scope)."""

from __future__ import annotations

import keras

from sagan_tf.config import Config, augment_policy
from sagan_tf.models import FAMILIES
from sagan_tf.training.gan import SAGAN
from sagan_tf.training.precision import policy_scope, resolve, wrap_optimizer


def _build(network_class, cfg: Config, precision: str | None = None, ops: str | None = None, **kwargs) -> keras.Model:
    """A built network of ``network_class`` from ``cfg`` under the dtype policy of ``precision``
    (default: ``train.precision``), running the forms of ``sagan_tf.ops`` that ``ops`` names (default:
    ``model.ops``; ``auto`` is decided for this process's devices, ``layers.op_setting``)."""
    m, d = cfg.model, cfg.data
    common = dict(
        resolution=d.resolution, ch=m.ch, num_classes=d.num_classes, channels=d.channels,
        attention_variant=m.attention_variant, ops=ops or m.ops,
    )
    if m.arch == "resnet":  # they exist only there
        common.update(attention_block=m.attention_block, attention_chunk=m.attention_chunk)
    with policy_scope(resolve(precision or cfg.train.precision)[0]):
        network = network_class(**common, **kwargs)
        network.build()
    return network


def build_generator(
    cfg: Config, name: str = "generator", precision: str | None = None, ops: str | None = None
) -> keras.Model:
    """G of ``model.arch`` (``models.Generator`` or ``models.DCGANGenerator``) with the dtype policy
    of ``precision`` (default: ``train.precision``; a served generator is built in "float32") and the
    op forms ``ops`` (default: ``model.ops``)."""
    m = cfg.model
    generator_class, _ = FAMILIES[m.arch]
    return _build(
        generator_class, cfg, z_dim=m.z_dim, attention=m.g_attention, sync_bn=m.sync_bn, bn_momentum=m.bn_momentum,
        spectral_norm=m.g_spectral_norm, name=name, precision=precision, ops=ops,
    )


def build_discriminator(cfg: Config) -> keras.Model:
    """D of ``model.arch`` with the dtype policy of ``train.precision``; both families take
    ``(images, labels)`` and return (B,) float32 logits."""
    _, discriminator_class = FAMILIES[cfg.model.arch]
    return _build(discriminator_class, cfg, attention=cfg.model.d_attention, name="discriminator")


def build_optimizers(cfg: Config) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """TTUR Adam pair (section 4.2): lr_G, lr_D, b1 and b2 from ``train.*``; loss-scaled for float16."""
    t = cfg.train
    precision = resolve(t.precision)[0]
    g_opt = keras.optimizers.Adam(t.g_lr, beta_1=t.beta1, beta_2=t.beta2, name="g_adam")
    d_opt = keras.optimizers.Adam(t.d_lr, beta_1=t.beta1, beta_2=t.beta2, name="d_adam")
    return wrap_optimizer(g_opt, precision, t.loss_scale), wrap_optimizer(d_opt, precision, t.loss_scale)


def build_sagan(cfg: Config) -> SAGAN:
    """The compiled GAN: G, D, both optimizers with built slots, G's EMA (``train.ema_decay > 0``),
    the augmentation (``augment.*``), LeCam (``train.lecam_weight``), mode seeking
    (``train.mode_seeking``, ``train.mode_seeking_per_class``) and gradient accumulation (``train.accumulate``)."""
    from sagan_tf.training.adaptive import AugmentProbability
    from sagan_tf.training.ema import GeneratorEMA
    from sagan_tf.training.lecam import LeCamAnchors
    from sagan_tf.training.mode_seeking import ClassSpread

    t, a = cfg.train, cfg.augment
    g, d = build_generator(cfg), build_discriminator(cfg)
    # The shadow is built after G and D: its (overwritten) random initialisation must not change theirs.
    with policy_scope(resolve(t.precision)[0]):  # the shadow computes like G (samples, in-training FID)
        ema = GeneratorEMA(g, t.ema_decay, t.ema_start) if t.ema_decay > 0 else None
    spread = ClassSpread(cfg.data.num_classes) if t.mode_seeking and t.mode_seeking_per_class else None
    probability = AugmentProbability(a.probability, a.ada_target, a.ada_interval, a.ada_kimg)
    model = SAGAN(g, d, d_steps=t.d_steps, seed=t.seed, ema=ema, augment_policy=augment_policy(a.policy),
                  augment_probability=probability, lecam=LeCamAnchors(t.lecam_weight, t.lecam_decay),
                  accumulate=t.accumulate, freeze_d=t.freeze_d, mode_seeking=t.mode_seeking,
                  class_spread=spread)
    g_opt, d_opt = build_optimizers(cfg)
    model.compile(g_optimizer=g_opt, d_optimizer=d_opt)
    return model
