"""The DCGAN-style SAGAN (``model.arch: dcgan``): the tutorial form of SAGAN.

Many users meet SAGAN as a DCGAN with self-attention (the PyTorch tutorial implementation
heykeetae/Self-Attention-GAN, ``sagan_models.py``): G upsamples with spectrally normalized transposed
convolutions, D downsamples with spectrally normalized strided convolutions and LeakyReLU(0.1),
and self-attention follows the last two blocks of each network. It is also the baseline the paper
moved away from (section 1: convolutions, and ConvTranspose in particular, only process local
neighbourhoods); ``sagan_tf.models`` is the official residual architecture.

For an output resolution R (28, 32 or 64) with start size s (7 for 28, else 4) and n = log2(R/s)
blocks, channel counts as multiples of ``ch`` (the narrowest layer, the tutorial's ``conv_dim``):

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

Both models keep the interface of ``sagan_tf.models``: ``call((x_or_z, labels), training,
return_attention)`` with ``return_attention=True`` returning ``(output, {layer_name: beta})``, and an
``attention_layers`` list (gamma logging).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from sagan_tf.layers.attention import SelfAttention
from sagan_tf.layers.blocks import sn_dense
from sagan_tf.layers.dcgan_blocks import DenseStartBlock, DownConvBlock, UpConvBlock, sn_conv_transpose
from sagan_tf.layers.spectral_norm import SpectralNormalization
from sagan_tf.models_common import projection_logits, run_blocks

START_SIZE: dict[int, int] = {28: 7, 32: 4, 64: 4}  # supported output resolutions -> G's first feature map
RESOLUTIONS = tuple(sorted(START_SIZE))
_G_CONFIG = ("resolution", "ch", "z_dim", "num_classes", "channels", "attention_variant", "sync_bn", "bn_momentum")
_D_CONFIG = ("resolution", "ch", "num_classes", "channels", "attention_variant", "negative_slope")


def _start(resolution: int) -> int:
    if resolution not in START_SIZE:
        raise ValueError(f"dcgan resolution must be one of {list(RESOLUTIONS)}, got {resolution}")
    return START_SIZE[resolution]


def generator_resolutions(resolution: int) -> list[int]:
    """Output resolution of each G block (the start block first); the output layer doubles the last."""
    size, out = _start(resolution), []
    while size < resolution:
        out.append(size)
        size *= 2
    return out


def discriminator_resolutions(resolution: int) -> list[int]:
    """Output resolution of each D block."""
    return list(reversed(generator_resolutions(resolution)))


def _attention_at(attention: Sequence[int] | None, available: list[int], variant: str, net: str) -> tuple[int, ...]:
    """The requested attention resolutions, checked; None: after the last two blocks."""
    # ``available`` is in block order (G: increasing, D: decreasing size): [-2:] are the last two.
    attention = tuple(available[-2:]) if attention is None else tuple(int(r) for r in attention)
    for r in attention:
        if r not in available:
            raise ValueError(f"{net} attention at {r}x{r}: no {net} block outputs that size (have {sorted(available)})")
        if variant == "pooled" and r % 2:
            raise ValueError(f"{net} attention at {r}x{r}: the pooled variant needs an even size; use 'paper'")
    return attention


@keras.saving.register_keras_serializable(package="sagan_tf")
class DCGANGenerator(keras.Model):
    """G(z, y) -> image in [-1, 1]; ``call((z, labels), training, return_attention)``.

    ``labels`` are used by the conditional batch norms when ``num_classes > 0`` and ignored otherwise.
    With ``return_attention=True`` returns ``(images, {layer_name: beta})``, beta (B, N_query, N_key).
    """

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
        **kwargs,
    ):
        super().__init__(**kwargs)
        sizes = generator_resolutions(resolution)
        self.resolution = int(resolution)
        self.ch = int(ch)
        self.z_dim = int(z_dim)
        self.num_classes = int(num_classes)
        self.channels = int(channels)
        self.attention = _attention_at(attention, sizes, attention_variant, "G")
        self.attention_variant = attention_variant
        self.sync_bn = bool(sync_bn)
        self.bn_momentum = float(bn_momentum)

        bn = dict(num_classes=self.num_classes, bn_momentum=self.bn_momentum, sync_bn=self.sync_bn)
        filters = [self.ch * 2 ** (len(sizes) - 1 - i) for i in range(len(sizes))]
        self.blocks = [DenseStartBlock(sizes[0], filters[0], **bn, name=f"block0_{sizes[0]}")]
        self.blocks += [UpConvBlock(f, **bn, name=f"block{i}_{s}") for i, (f, s) in enumerate(zip(filters, sizes, strict=True)) if i]
        self.attention_layers = []
        attention_after = []
        for i, size in enumerate(sizes):
            if size in self.attention:
                attention_after.append(i)
                self.attention_layers.append(SelfAttention(attention_variant, name=f"attention_{size}"))
        self._attention_after = tuple(attention_after)
        self.output_conv = sn_conv_transpose(self.channels, "output_deconv")

    def build(self, input_shape=None):
        self.call((tf.zeros([1, self.z_dim]), tf.zeros([1], tf.int32)), training=False)
        self.built = True

    def call(self, inputs, training=None, return_attention: bool = False):
        z, labels = inputs
        attention = dict(zip(self._attention_after, self.attention_layers, strict=True))
        h, maps = run_blocks(self.blocks, attention, z, labels, training=training, return_attention=return_attention)
        images = tf.tanh(tf.cast(self.output_conv(h, training=training), tf.float32))
        return (images, maps) if return_attention else images

    def get_config(self):
        return {"name": self.name, "attention": list(self.attention), **{k: getattr(self, k) for k in _G_CONFIG}}


@keras.saving.register_keras_serializable(package="sagan_tf")
class DCGANDiscriminator(keras.Model):
    """D(x, y) -> logit (B,): psi(phi(x)) [+ <SN-embed(y), phi(x)>]; ``call((images, labels), ...)``."""

    def __init__(
        self,
        resolution: int = 32,
        ch: int = 64,
        num_classes: int = 0,
        channels: int = 3,
        attention: Sequence[int] | None = None,
        attention_variant: str = "paper",
        negative_slope: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        sizes = discriminator_resolutions(resolution)
        self.resolution = int(resolution)
        self.ch = int(ch)
        self.num_classes = int(num_classes)
        self.channels = int(channels)
        self.attention = _attention_at(attention, sizes, attention_variant, "D")
        self.attention_variant = attention_variant
        self.negative_slope = float(negative_slope)

        self.blocks = []
        self.attention_layers = []
        attention_after = []
        for i, size in enumerate(sizes):
            self.blocks.append(DownConvBlock(self.ch * 2**i, self.negative_slope, name=f"block{i}_{size}"))
            if size in self.attention:
                attention_after.append(i)
                self.attention_layers.append(SelfAttention(attention_variant, name=f"attention_{size}"))
        self._attention_after = tuple(attention_after)
        self.features = sizes[-1] * sizes[-1] * self.ch * 2 ** (len(sizes) - 1)  # dim of phi(x)
        self.linear = sn_dense(1, "linear")
        self.embedding = None
        if self.num_classes > 0:
            embed = keras.layers.Embedding(self.num_classes, self.features, name="embedding")
            self.embedding = SpectralNormalization(embed, name="sn_embedding")

    def build(self, input_shape=None):
        x = tf.zeros([1, self.resolution, self.resolution, self.channels])
        self.call((x, tf.zeros([1], tf.int32)), training=False)
        self.built = True

    def call(self, inputs, training=None, return_attention: bool = False):
        x, labels = inputs
        attention = dict(zip(self._attention_after, self.attention_layers, strict=True))
        h, maps = run_blocks(self.blocks, attention, x, training=training, return_attention=return_attention)
        phi = tf.reshape(h, [-1, self.features])  # the flattened last features
        logits = projection_logits(phi, labels, self.linear, self.embedding, training=training)
        return (logits, maps) if return_attention else logits

    def get_config(self):
        return {"name": self.name, "attention": list(self.attention), **{k: getattr(self, k) for k in _D_CONFIG}}
