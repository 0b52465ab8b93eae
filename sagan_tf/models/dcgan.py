"""The DCGAN-style SAGAN (``model.arch: dcgan``): the tutorial form of SAGAN.

Many users meet SAGAN as a DCGAN with self-attention (the PyTorch tutorial implementation
heykeetae/Self-Attention-GAN, ``sagan_models.py``): G upsamples with spectrally normalized transposed
convolutions, D downsamples with spectrally normalized strided convolutions and LeakyReLU(0.1),
and self-attention follows the last two blocks of each network. It is also the baseline the paper
moved away from (section 1: convolutions, and ConvTranspose in particular, only process local
neighbourhoods); ``models.resnet`` is the official residual architecture.

For an output resolution R (28, 32 or 64) with start size s (7 for 28, else 4) and n = log2(R/s)
blocks (``sagan_tf.architectures``), channel counts as multiples of ``ch`` (the narrowest layer, the tutorial's ``conv_dim``):

* G: ``DenseStartBlock`` z -> s x s x (2^(n-1) ch); n-1 ``UpConvBlock`` s -> ... -> R/2, halving
  the channels; output SN-ConvTranspose 4x4/2 -> R x R x channels, tanh.
  R=32, ch=64: 4x4x256 -> 8x8x128 -> 16x16x64 -> 32x32x3.
* D: n ``DownConvBlock`` R -> R/2 -> ... -> s, doubling the channels from ch; flatten: phi(x);
  SN-linear -> 1, plus the projection term <SN-embed(y), phi(x)> when ``num_classes > 0``
  (Miyato & Koyama 2018, as in the residual D). The tutorial's final 4x4 'valid' convolution to one
  channel is the same linear map of the flattened features.
  R=32, ch=64: 16x16x64 -> 8x8x128 -> 4x4x256 -> 1.

Self-attention is placed after the blocks whose output resolution is listed in ``attention``;
the default (None) is the tutorial's: after the last two blocks of each network (R=32: G 8 and 16,
D 8 and 4; R=64: G 16 and 32, D 8 and 4; R=28: G 7 and 14, D 14 and 7). The ``pooled`` attention
variant max-pools keys 2x2 and therefore needs even feature sizes; with a 7x7 attention (R=28) use
``paper``.

Where this differs from the tutorial code, exactly:

* Attention: ours is SAGAN's eq. 1-3 (``layers.attention``): f, g and h are 1x1 convolutions to C/8
  channels followed by the output convolution v back to C, all spectrally normalized and without
  bias. The tutorial's block has no v: its value convolution maps C -> C directly, and its three
  1x1 convolutions have biases and no spectral normalization. Both keys are unpooled (``paper``).
* Spectral norm: ours is on every layer. The tutorial leaves G's last ConvTranspose and D's last
  convolution unnormalized.
* G's first layer is an SN-linear layer instead of a 4x4 ConvTranspose of a 1x1 input, and D's last
  an SN-linear layer instead of a 4x4 'valid' convolution: the same linear maps (and as dense layers
  their spectral norms are exactly the maps' norms). Convolutions followed by batch norm have no bias.
* ``num_classes > 0`` adds conditional batch norm in G and the projection term in D; the tutorial
  is unconditional.

Both models share the interface and skeleton of ``models.base`` with the residual family:
``call((x_or_z, labels), training, return_attention)`` with ``return_attention=True`` returning
``(output, {layer_name: beta})``, and an ``attention_layers`` list (gamma logging).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from sagan_tf.architectures import check_attention, discriminator_resolutions, generator_resolutions
from sagan_tf.layers.attention import SelfAttention
from sagan_tf.layers.dcgan_blocks import DenseStartBlock, DownConvBlock, UpConvBlock, sn_conv_transpose
from sagan_tf.models.base import DiscriminatorNetwork, GeneratorNetwork
from sagan_tf.ops_choice import OpChoice


def _attention_at(attention: Sequence[int] | None, available: list[int], variant: str, net: str) -> tuple[int, ...]:
    """The requested attention resolutions, checked; None: after the last two blocks."""
    # ``available`` is in block order (G: increasing, D: decreasing size): [-2:] are the last two.
    return check_attention(available[-2:] if attention is None else attention, available, variant, net)


@keras.saving.register_keras_serializable(package="sagan_tf")
class DCGANGenerator(GeneratorNetwork):
    """G(z, y) -> image in [-1, 1]; ``call((z, labels), training, return_attention)``.

    ``labels`` are used by the conditional batch norms when ``num_classes > 0`` and ignored otherwise.
    With ``return_attention=True`` returns ``(images, {layer_name: beta})``, beta (B, N_query, N_key).
    ``spectral_norm=False``: no layer of G is spectrally normalized (SAGAN section 5.1).
    """

    CONFIG_KEYS = (
        "resolution", "ch", "z_dim", "num_classes", "channels", "attention_variant", "sync_bn", "bn_momentum",
        "spectral_norm",
    )

    def __init__(
        self,
        resolution: int = 32,
        ch: int = 64,
        z_dim: int = 128,
        num_classes: int = 0,
        channels: int = 3,
        attention: Sequence[int] | None = None,
        attention_variant: str = "paper",
        sync_bn: bool = False,
        bn_momentum: float = 0.9,
        spectral_norm: bool = True,
        ops: str | OpChoice = "auto",
        **kwargs,
    ):
        super().__init__(
            resolution=resolution, ch=ch, num_classes=num_classes, channels=channels,
            attention_variant=attention_variant, z_dim=z_dim, sync_bn=sync_bn, bn_momentum=bn_momentum,
            spectral_norm=spectral_norm, ops=ops, **kwargs,
        )
        sizes = generator_resolutions("dcgan", resolution)
        self.attention = _attention_at(attention, sizes, attention_variant, "G")

        sn, choice = self.spectral_norm, self.ops
        bn = dict(
            num_classes=self.num_classes, bn_momentum=self.bn_momentum, sync_bn=self.sync_bn, spectral_norm=sn, ops=choice
        )
        for i, size in enumerate(sizes):
            filters, name = self.ch * 2 ** (len(sizes) - 1 - i), f"block{i}_{size}"
            block = DenseStartBlock(size, filters, **bn, name=name) if i == 0 else UpConvBlock(filters, **bn, name=name)
            self.add_block(block, size, lambda r: SelfAttention(
                attention_variant, spectral_norm=sn, ops=choice, name=f"attention_{r}"))
        self.output_conv = sn_conv_transpose(self.channels, "output_deconv", spectral_norm=sn, ops=choice)

    def to_image(self, h, training=None):
        return self.output_conv(h, training=training)


@keras.saving.register_keras_serializable(package="sagan_tf")
class DCGANDiscriminator(DiscriminatorNetwork):
    """D(x, y) -> logit (B,): psi(phi(x)) [+ <SN-embed(y), phi(x)>]; ``call((images, labels), ...)``.

    phi(x) is the last block's output flattened.
    """

    CONFIG_KEYS = ("resolution", "ch", "num_classes", "channels", "attention_variant", "negative_slope")

    def __init__(
        self,
        resolution: int = 32,
        ch: int = 64,
        num_classes: int = 0,
        channels: int = 3,
        attention: Sequence[int] | None = None,
        attention_variant: str = "paper",
        negative_slope: float = 0.1,
        ops: str | OpChoice = "auto",
        **kwargs,
    ):
        super().__init__(
            resolution=resolution, ch=ch, num_classes=num_classes, channels=channels,
            attention_variant=attention_variant, ops=ops, **kwargs,
        )
        sizes = discriminator_resolutions("dcgan", resolution)
        self.attention = _attention_at(attention, sizes, attention_variant, "D")
        self.negative_slope = float(negative_slope)

        for i, size in enumerate(sizes):
            block = DownConvBlock(self.ch * 2**i, self.negative_slope, ops=self.ops, name=f"block{i}_{size}")
            self.add_block(block, size, lambda r: SelfAttention(attention_variant, ops=self.ops, name=f"attention_{r}"))
        self.feature_size = sizes[-1] * sizes[-1] * self.ch * 2 ** (len(sizes) - 1)  # dim of phi(x)
        self.add_projection_head(self.feature_size)

    def features(self, h):
        return tf.reshape(h, [-1, self.feature_size])  # the flattened last features
