"""Networks, optimizers and the compiled ``SAGAN`` from a ``Config`` (call inside a strategy scope)."""

from __future__ import annotations

import keras

from sagan_tf.config import Config
from sagan_tf.gan import SAGAN
from sagan_tf.models import Discriminator, Generator
from sagan_tf.models_dcgan import DCGANDiscriminator, DCGANGenerator


def build_generator(cfg: Config) -> Generator | DCGANGenerator:
    """G of ``model.arch`` (resnet: ``models.Generator``, dcgan: ``models_dcgan.DCGANGenerator``)."""
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
        name="generator",
    )
    g.build()
    return g


def build_discriminator(cfg: Config) -> Discriminator | DCGANDiscriminator:
    """D of ``model.arch``; both take ``(images, labels)`` and return (B,) logits."""
    m, d = cfg.model, cfg.data
    disc = (DCGANDiscriminator if m.arch == "dcgan" else Discriminator)(
        resolution=d.resolution,
        ch=m.ch,
        num_classes=d.num_classes,
        channels=d.channels,
        attention=m.d_attention,
        attention_variant=m.attention_variant,
        name="discriminator",
    )
    disc.build()
    return disc


def build_optimizers(cfg: Config) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """TTUR Adam pair (section 4.2): lr_G, lr_D, b1 and b2 from ``train.*``."""
    t = cfg.train
    g_opt = keras.optimizers.Adam(t.g_lr, beta_1=t.beta1, beta_2=t.beta2, name="g_adam")
    d_opt = keras.optimizers.Adam(t.d_lr, beta_1=t.beta1, beta_2=t.beta2, name="d_adam")
    return g_opt, d_opt


def build_sagan(cfg: Config) -> SAGAN:
    """The compiled GAN: G, D and both optimizers with built slots."""
    model = SAGAN(build_generator(cfg), build_discriminator(cfg), d_steps=cfg.train.d_steps, seed=cfg.train.seed)
    g_opt, d_opt = build_optimizers(cfg)
    model.compile(g_optimizer=g_opt, d_optimizer=d_opt)
    return model
