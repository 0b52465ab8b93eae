"""SAGAN generator and projection discriminator (paper section 4; official code, BigGAN tables).

Architectures are tables keyed by output resolution, channel counts as multiples of ``ch``:

* G: SN-linear z -> 4x4x(g_init*ch); up-blocks with CBN to each resolution; BN, ReLU,
  SN-conv3x3 -> channels, tanh.
* D: an optimized first block, then down-blocks; ReLU, global sum pooling, SN-linear -> 1, plus the
  projection term <SN-embed(y), h> (Miyato & Koyama 2018): D(x, y) = psi(phi(x)) + <e(y), phi(x)>.

Self-attention (``SelfAttention``) is inserted after the block whose output has the requested
resolution (paper Table 1: "feat8" ... "feat64"); several resolutions may be given. G's
``spectral_norm=False`` leaves every layer of G unnormalized (paper section 5.1, "SN on D"). The tables are
``sagan_tf.architectures.RESNET_TABLES``; attention placement, ``call`` and the projection head are
``models.base``.

128 is the official SAGAN ImageNet model (ch=64: G 4x4x1024 -> 8(1024) 16(512) 32(256) 64(128)
128(64); D 64(64) 32(128) 16(256) 8(512) 4(1024) 4(1024)). 32 is the CIFAR-10 SAGAN of
PyTorch-StudioGAN (ch=64: G three up-blocks of 256; D four blocks of 128, the last two without
downsampling). 64 is PyTorch-StudioGAN's resnet 64x64 table: G 4x4x(16 ch) -> 8(8 ch) 16(4 ch)
32(2 ch) 64(ch), D 32(ch) 16(2 ch) 8(4 ch) 4(8 ch) 4(16 ch). D is also BigGAN's 64x64 D; BigGAN's
64x64 G is one step wider, (16, 8, 4, 2) x ch.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.architectures import check_attention, discriminator_resolutions, generator_resolutions, resnet_table
from sagan_tf.layers.attention import SelfAttention
from sagan_tf.layers.blocks import DiscriminatorBlock, GeneratorBlock, sn_conv, sn_dense
from sagan_tf.layers.cond_bn import ConditionalBatchNormalization
from sagan_tf.layers.residual_substitute import ResidualSubstitute
from sagan_tf.models.base import DiscriminatorNetwork, GeneratorNetwork
from sagan_tf.ops_choice import OpChoice

ATTENTION_BLOCKS = ("attention", "residual")


def make_attention_block(
    kind: str, variant: str, res: int, query_chunk: int = 0, spectral_norm: bool = True, ops: str | OpChoice = "auto"
):
    """The block inserted at resolution ``res``: self-attention (``query_chunk``: memory-efficient
    blocks of queries), or the equal-parameter residual block of the paper's Table 1 ablation
    (``ResidualSubstitute``); ``spectral_norm=False``: with plain kernels."""
    if kind == "residual":
        return ResidualSubstitute(variant, spectral_norm=spectral_norm, ops=ops, name=f"residual_{res}")
    if kind != "attention":
        raise ValueError(f"attention_block must be one of {ATTENTION_BLOCKS}, got {kind!r}")
    return SelfAttention(variant, query_chunk=query_chunk, spectral_norm=spectral_norm, ops=ops, name=f"attention_{res}")


@keras.saving.register_keras_serializable(package="sagan_tf")
class Generator(GeneratorNetwork):
    """G(z, y) -> image in [-1, 1]; ``call((z, labels), training, return_attention)``.

    With ``return_attention=True`` returns ``(images, {layer_name: beta})`` where each beta is the
    (B, N_query, N_key) map of one attention layer. ``spectral_norm=False``: no layer of G is
    spectrally normalized (paper section 5.1).
    """

    CONFIG_KEYS = (
        "resolution", "ch", "z_dim", "num_classes", "channels", "attention_variant", "attention_chunk", "sync_bn",
        "bn_momentum", "attention_block", "spectral_norm",
    )

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
        spectral_norm: bool = True,
        ops: str | OpChoice = "auto",
        **kwargs,
    ):
        super().__init__(
            resolution=resolution, ch=ch, num_classes=num_classes, channels=channels,
            attention_variant=attention_variant, z_dim=z_dim, sync_bn=sync_bn, bn_momentum=bn_momentum,
            spectral_norm=spectral_norm, ops=ops, **kwargs,
        )
        table = resnet_table(resolution)
        self.attention = check_attention(attention, generator_resolutions("resnet", resolution), attention_variant, "G")
        self.attention_chunk = int(attention_chunk)
        self.attention_block = attention_block

        self.init_channels = table.g_init * self.ch
        sn, choice = self.spectral_norm, self.ops
        self.linear = sn_dense(4 * 4 * self.init_channels, "linear", spectral_norm=sn, ops=choice)
        for i, (mult, res) in enumerate(zip(table.g_blocks, generator_resolutions("resnet", resolution), strict=True)):
            block = GeneratorBlock(
                mult * self.ch, self.num_classes, self.bn_momentum, self.sync_bn, spectral_norm=sn, ops=choice,
                name=f"block{i}_{res}",
            )
            self.add_block(block, res, lambda r: make_attention_block(
                self.attention_block, attention_variant, r, self.attention_chunk, sn, choice))
        self.output_bn = ConditionalBatchNormalization(
            0, self.bn_momentum, synchronized=self.sync_bn, ops=choice, name="output_bn"
        )
        self.output_conv = sn_conv(self.channels, 3, "output_conv", spectral_norm=sn, ops=choice)

    def stem(self, z, training=None):
        return tf.reshape(self.linear(z, training=training), [-1, 4, 4, self.init_channels])

    def to_image(self, h, training=None):
        return self.output_conv(self.output_bn(h, training=training, relu=True), training=training)


@keras.saving.register_keras_serializable(package="sagan_tf")
class Discriminator(DiscriminatorNetwork):
    """Projection D(x, y) -> logit (B,); ``call((images, labels), training, return_attention)``.

    phi(x) is the global sum pooling of ReLU of the last block's output.
    """

    CONFIG_KEYS = (
        "resolution", "ch", "num_classes", "channels", "attention_variant", "attention_chunk", "attention_block",
    )

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
        ops: str | OpChoice = "auto",
        **kwargs,
    ):
        super().__init__(
            resolution=resolution, ch=ch, num_classes=num_classes, channels=channels,
            attention_variant=attention_variant, ops=ops, **kwargs,
        )
        table = resnet_table(resolution)
        self.attention = check_attention(attention, discriminator_resolutions("resnet", resolution), attention_variant, "D")
        self.attention_chunk = int(attention_chunk)
        self.attention_block = attention_block

        resolutions = discriminator_resolutions("resnet", resolution)
        for i, ((mult, down), res) in enumerate(zip(table.d_blocks, resolutions, strict=True)):
            block = DiscriminatorBlock(mult * self.ch, down, optimized=(i == 0), ops=self.ops, name=f"block{i}_{res}")
            self.add_block(block, res, lambda r: make_attention_block(
                self.attention_block, attention_variant, r, self.attention_chunk, ops=self.ops))
        self.add_projection_head(table.d_blocks[-1][0] * self.ch)

    def features(self, h):
        return tf.reduce_sum(tf.nn.relu(h), axis=[1, 2])  # global sum pooling: phi(x)
