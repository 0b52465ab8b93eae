"""Networks, optimizers and the compiled ``SAGAN`` from a ``Config`` (call inside a strategy scope)."""

from __future__ import annotations

import keras

from sagan_tf.config import Config
from sagan_tf.gan import SAGAN
from sagan_tf.models import Discriminator, Generator
from sagan_tf.precision import policy_scope, wrap_optimizer


def build_generator(cfg: Config) -> Generator:
    """G with the dtype policy of ``train.precision``."""
    with policy_scope(cfg.train.precision):
        return _build_generator(cfg)


def _build_generator(cfg: Config) -> Generator:
    m, d = cfg.model, cfg.data
    g = Generator(
        resolution=d.resolution,
        ch=m.ch,
        z_dim=m.z_dim,
        num_classes=d.num_classes,
        channels=d.channels,
        attention=m.g_attention,
        attention_variant=m.attention_variant,
        attention_chunk=m.attention_chunk,
        sync_bn=m.sync_bn,
        bn_momentum=m.bn_momentum,
        name="generator",
    )
    g.build()
    return g


def build_discriminator(cfg: Config) -> Discriminator:
    """D with the dtype policy of ``train.precision``."""
    with policy_scope(cfg.train.precision):
        return _build_discriminator(cfg)


def _build_discriminator(cfg: Config) -> Discriminator:
    m, d = cfg.model, cfg.data
    disc = Discriminator(
        resolution=d.resolution,
        ch=m.ch,
        num_classes=d.num_classes,
        channels=d.channels,
        attention=m.d_attention,
        attention_variant=m.attention_variant,
        attention_chunk=m.attention_chunk,
        name="discriminator",
    )
    disc.build()
    return disc


def build_optimizers(cfg: Config) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """TTUR Adam pair (section 4.2): lr_G, lr_D, b1 and b2 from ``train.*``; loss-scaled for float16."""
    t = cfg.train
    g_opt = keras.optimizers.Adam(t.g_lr, beta_1=t.beta1, beta_2=t.beta2, name="g_adam")
    d_opt = keras.optimizers.Adam(t.d_lr, beta_1=t.beta1, beta_2=t.beta2, name="d_adam")
    return wrap_optimizer(g_opt, t.precision), wrap_optimizer(d_opt, t.precision)


def build_sagan(cfg: Config) -> SAGAN:
    """The compiled GAN: G, D and both optimizers with built slots."""
    model = SAGAN(build_generator(cfg), build_discriminator(cfg), d_steps=cfg.train.d_steps, seed=cfg.train.seed)
    g_opt, d_opt = build_optimizers(cfg)
    model.compile(g_optimizer=g_opt, d_optimizer=d_opt)
    return model
