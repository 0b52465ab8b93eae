"""SAGAN generator and projection discriminator (paper section 4; official code, BigGAN tables).

Architectures are tables keyed by output resolution, channel counts as multiples of ``ch``:

* G: SN-linear z -> 4x4x(g_init*ch); up-blocks with CBN to each resolution; BN, ReLU,
  SN-conv3x3 -> channels, tanh.
* D: an optimized first block, then down-blocks; ReLU, global sum pooling, SN-linear -> 1, plus the
  projection term <SN-embed(y), h> (Miyato & Koyama 2018): D(x, y) = psi(phi(x)) + <e(y), phi(x)>.

Self-attention (``SelfAttention``) is inserted after the block whose output has the requested
resolution (paper Table 1: "feat8" ... "feat64"); several resolutions may be given.

128 is the official SAGAN ImageNet model (ch=64: G 4x4x1024 -> 8(1024) 16(512) 32(256) 64(128)
128(64); D 64(64) 32(128) 16(256) 8(512) 4(1024) 4(1024)). 32 is the CIFAR-10 SAGAN of
PyTorch-StudioGAN (ch=64: G three up-blocks of 256; D four blocks of 128, the last two without
downsampling). 64 is PyTorch-StudioGAN's resnet 64x64 table: G 4x4x(16 ch) -> 8(8 ch) 16(4 ch)
32(2 ch) 64(ch), D 32(ch) 16(2 ch) 8(4 ch) 4(8 ch) 4(16 ch). D is also BigGAN's 64x64 D; BigGAN's
64x64 G is one step wider, (16, 8, 4, 2) x ch.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from sagan_tf.layers.attention import SelfAttention
from sagan_tf.layers.blocks import DiscriminatorBlock, GeneratorBlock, sn_conv, sn_dense
from sagan_tf.layers.cond_bn import ConditionalBatchNormalization
from sagan_tf.layers.residual_substitute import ResidualSubstitute
from sagan_tf.layers.spectral_norm import SpectralNormalization
from sagan_tf.models_common import projection_logits, run_blocks


@dataclass(frozen=True)
class ArchTable:
    """Channel multipliers per block; D blocks are (multiplier, downsample)."""

    g_init: int
    g_blocks: tuple[int, ...]
    d_blocks: tuple[tuple[int, bool], ...]


ARCH_TABLES: dict[int, ArchTable] = {
    32: ArchTable(g_init=4, g_blocks=(4, 4, 4), d_blocks=((2, True), (2, True), (2, False), (2, False))),
    64: ArchTable(g_init=16, g_blocks=(8, 4, 2, 1), d_blocks=((1, True), (2, True), (4, True), (8, True), (16, False))),
    128: ArchTable(
        g_init=16,
        g_blocks=(16, 8, 4, 2, 1),
        d_blocks=((1, True), (2, True), (4, True), (8, True), (16, True), (16, False)),
    ),
}


def generator_resolutions(resolution: int) -> list[int]:
    """Output resolution of each G block."""
    table = _table(resolution)
    return [4 * 2 ** (i + 1) for i in range(len(table.g_blocks))]


def discriminator_resolutions(resolution: int) -> list[int]:
    """Output resolution of each D block."""
    res, out = resolution, []
    for _, down in _table(resolution).d_blocks:
        res = res // 2 if down else res
        out.append(res)
    return out


def _table(resolution: int) -> ArchTable:
    if resolution not in ARCH_TABLES:
        raise ValueError(f"resolution must be one of {sorted(ARCH_TABLES)}, got {resolution}")
    return ARCH_TABLES[resolution]


def _check_attention(attention, available: list[int], net: str) -> tuple[int, ...]:
    attention = tuple(int(r) for r in attention)
    for r in attention:
        if r not in available:
            raise ValueError(f"{net} attention at {r}x{r}: no {net} block outputs that size (have {sorted(set(available))})")
    return attention


ATTENTION_BLOCKS = ("attention", "residual")


def _attention_block(kind: str, variant: str, res: int, query_chunk: int = 0):
    """The block inserted at resolution ``res``: self-attention (``query_chunk``: memory-efficient
    blocks of queries), or the equal-parameter residual block of the paper's Table 1 ablation
    (``ResidualSubstitute``)."""
    if kind == "residual":
        return ResidualSubstitute(variant, name=f"residual_{res}")
    if kind != "attention":
        raise ValueError(f"attention_block must be one of {ATTENTION_BLOCKS}, got {kind!r}")
    return SelfAttention(variant, query_chunk=query_chunk, name=f"attention_{res}")


@keras.saving.register_keras_serializable(package="sagan_tf")
class Generator(keras.Model):
    """G(z, y) -> image in [-1, 1]; ``call((z, labels), training, return_attention)``.

    With ``return_attention=True`` returns ``(images, {layer_name: beta})`` where each beta is the
    (B, N_query, N_key) map of one attention layer.
    """

    def __init__(
        self,
        resolution: int = 32,
        ch: int = 64,
        z_dim: int = 128,
        num_classes: int = 10,
        channels: int = 3,
        attention=(16,),
        attention_variant: str = "pooled",
        attention_chunk: int = 0,
        sync_bn: bool = False,
        bn_momentum: float = 0.9,
        attention_block: str = "attention",
        **kwargs,
    ):
        super().__init__(**kwargs)
        table = _table(resolution)
        self.resolution = int(resolution)
        self.ch = int(ch)
        self.z_dim = int(z_dim)
        self.num_classes = int(num_classes)
        self.channels = int(channels)
        self.attention = _check_attention(attention, generator_resolutions(resolution), "G")
        self.attention_variant = attention_variant
        self.attention_chunk = int(attention_chunk)
        self.sync_bn = bool(sync_bn)
        self.bn_momentum = float(bn_momentum)
        self.attention_block = attention_block

        self.init_channels = table.g_init * self.ch
        self.linear = sn_dense(4 * 4 * self.init_channels, "linear")
        self.blocks = []
        self.attention_layers = []
        attention_after = []
        for i, (mult, res) in enumerate(zip(table.g_blocks, generator_resolutions(resolution), strict=True)):
            self.blocks.append(
                GeneratorBlock(mult * self.ch, self.num_classes, self.bn_momentum, self.sync_bn, name=f"block{i}_{res}")
            )
            if res in self.attention:
                attention_after.append(i)
                self.attention_layers.append(_attention_block(attention_block, attention_variant, res, self.attention_chunk))
        self._attention_after = tuple(attention_after)
        self.output_bn = ConditionalBatchNormalization(0, self.bn_momentum, synchronized=self.sync_bn, name="output_bn")
        self.output_conv = sn_conv(self.channels, 3, "output_conv")

    def build(self, input_shape=None):
        z = tf.zeros([1, self.z_dim])
        self.call((z, tf.zeros([1], tf.int32)), training=False)
        self.built = True

    def call(self, inputs, training=None, return_attention: bool = False):
        z, labels = inputs
        h = self.linear(z, training=training)
        h = tf.reshape(h, [-1, 4, 4, self.init_channels])
        attention = dict(zip(self._attention_after, self.attention_layers, strict=True))
        h, maps = run_blocks(self.blocks, attention, h, labels, training=training, return_attention=return_attention)
        h = tf.nn.relu(self.output_bn(h, training=training))
        images = tf.tanh(tf.cast(self.output_conv(h, training=training), tf.float32))
        return (images, maps) if return_attention else images

    def get_config(self):
        return {
            "name": self.name,
            "resolution": self.resolution,
            "ch": self.ch,
            "z_dim": self.z_dim,
            "num_classes": self.num_classes,
            "channels": self.channels,
            "attention": list(self.attention),
            "attention_variant": self.attention_variant,
            "attention_chunk": self.attention_chunk,
            "sync_bn": self.sync_bn,
            "bn_momentum": self.bn_momentum,
            "attention_block": self.attention_block,
        }


@keras.saving.register_keras_serializable(package="sagan_tf")
class Discriminator(keras.Model):
    """Projection D(x, y) -> logit (B,); ``call((images, labels), training, return_attention)``."""

    def __init__(
        self,
        resolution: int = 32,
        ch: int = 64,
        num_classes: int = 10,
        channels: int = 3,
        attention=(16,),
        attention_variant: str = "pooled",
        attention_block: str = "attention",
        attention_chunk: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        table = _table(resolution)
        self.attention_block = attention_block
        self.resolution = int(resolution)
        self.ch = int(ch)
        self.num_classes = int(num_classes)
        self.channels = int(channels)
        self.attention = _check_attention(attention, discriminator_resolutions(resolution), "D")
        self.attention_variant = attention_variant
        self.attention_chunk = int(attention_chunk)

        self.blocks = []
        self.attention_layers = []
        attention_after = []
        placed = set()
        for i, ((mult, down), res) in enumerate(zip(table.d_blocks, discriminator_resolutions(resolution), strict=True)):
            self.blocks.append(DiscriminatorBlock(mult * self.ch, down, optimized=(i == 0), name=f"block{i}_{res}"))
            if res in self.attention and res not in placed:
                placed.add(res)
                attention_after.append(i)
                self.attention_layers.append(_attention_block(attention_block, attention_variant, res, self.attention_chunk))
        self._attention_after = tuple(attention_after)
        self.linear = sn_dense(1, "linear")
        self.embedding = None
        if self.num_classes > 0:
            embed = keras.layers.Embedding(self.num_classes, table.d_blocks[-1][0] * self.ch, name="embedding")
            self.embedding = SpectralNormalization(embed, name="sn_embedding")

    def build(self, input_shape=None):
        x = tf.zeros([1, self.resolution, self.resolution, self.channels])
        self.call((x, tf.zeros([1], tf.int32)), training=False)
        self.built = True

    def call(self, inputs, training=None, return_attention: bool = False):
        x, labels = inputs
        attention = dict(zip(self._attention_after, self.attention_layers, strict=True))
        h, maps = run_blocks(self.blocks, attention, x, training=training, return_attention=return_attention)
        phi = tf.reduce_sum(tf.nn.relu(h), axis=[1, 2])  # global sum pooling: phi(x)
        logits = projection_logits(phi, labels, self.linear, self.embedding, training=training)
        return (logits, maps) if return_attention else logits

    def get_config(self):
        return {
            "name": self.name,
            "resolution": self.resolution,
            "ch": self.ch,
            "num_classes": self.num_classes,
            "channels": self.channels,
            "attention": list(self.attention),
            "attention_variant": self.attention_variant,
            "attention_chunk": self.attention_chunk,
            "attention_block": self.attention_block,
        }
