"""Networks, optimizers and the compiled ``SAGAN`` from a ``Config`` (call inside a strategy scope)."""

from __future__ import annotations

import keras

from sagan_tf.config import Config
from sagan_tf.gan import SAGAN
from sagan_tf.models import Discriminator, Generator
from sagan_tf.models_dcgan import DCGANDiscriminator, DCGANGenerator
from sagan_tf.precision import policy_scope, wrap_optimizer


def _attention_block(cfg: Config) -> dict:
    """``attention_block`` and ``attention_chunk`` for the resnet family (they exist only there)."""
    m = cfg.model
    return {"attention_block": m.attention_block, "attention_chunk": m.attention_chunk} if m.arch == "resnet" else {}


def build_generator(cfg: Config, name: str = "generator") -> Generator | DCGANGenerator:
    """G of ``model.arch`` (resnet: ``models.Generator``, dcgan: ``models_dcgan.DCGANGenerator``) with
    the dtype policy of ``train.precision``."""
    with policy_scope(cfg.train.precision):
        return _build_generator(cfg, name)


def _build_generator(cfg: Config, name: str) -> Generator | DCGANGenerator:
    m, d = cfg.model, cfg.data
    g = (DCGANGenerator if m.arch == "dcgan" else Generator)(
        resolution=d.resolution,
        ch=m.ch,
        z_dim=m.z_dim,
        num_classes=d.num_classes,
        channels=d.channels,
        attention=m.g_attention,
        attention_variant=m.attention_variant,
        sync_bn=m.sync_bn,
        bn_momentum=m.bn_momentum,
        name=name,
        **_attention_block(cfg),
    )
    g.build()
    return g


def build_discriminator(cfg: Config) -> Discriminator | DCGANDiscriminator:
    """D of ``model.arch`` with the dtype policy of ``train.precision``; both families take
    ``(images, labels)`` and return (B,) float32 logits."""
    with policy_scope(cfg.train.precision):
        return _build_discriminator(cfg)


def _build_discriminator(cfg: Config) -> Discriminator | DCGANDiscriminator:
    m, d = cfg.model, cfg.data
    disc = (DCGANDiscriminator if m.arch == "dcgan" else Discriminator)(
        resolution=d.resolution,
        ch=m.ch,
        num_classes=d.num_classes,
        channels=d.channels,
        attention=m.d_attention,
        attention_variant=m.attention_variant,
        name="discriminator",
        **_attention_block(cfg),
    )
    disc.build()
    return disc


def build_optimizers(cfg: Config) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """TTUR Adam pair (section 4.2): lr_G, lr_D, b1 and b2 from ``train.*``; loss-scaled for float16."""
    t = cfg.train
    g_opt = keras.optimizers.Adam(t.g_lr, beta_1=t.beta1, beta_2=t.beta2, name="g_adam")
    d_opt = keras.optimizers.Adam(t.d_lr, beta_1=t.beta1, beta_2=t.beta2, name="d_adam")
    return wrap_optimizer(g_opt, t.precision, t.loss_scale), wrap_optimizer(d_opt, t.precision, t.loss_scale)


def build_sagan(cfg: Config) -> SAGAN:
    """The compiled GAN: G, D, both optimizers with built slots, and G's EMA (``train.ema_decay > 0``)."""
    from sagan_tf.ema import GeneratorEMA

    t = cfg.train
    g, d = build_generator(cfg), build_discriminator(cfg)
    # The shadow is built after G and D: its (overwritten) random initialisation must not change theirs.
    with policy_scope(t.precision):  # the shadow computes like G (samples, in-training FID)
        ema = GeneratorEMA(g, t.ema_decay, t.ema_start) if t.ema_decay > 0 else None
    model = SAGAN(g, d, d_steps=t.d_steps, seed=t.seed, ema=ema)
    g_opt, d_opt = build_optimizers(cfg)
    model.compile(g_optimizer=g_opt, d_optimizer=d_opt)
    return model
