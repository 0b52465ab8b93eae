"""Residual blocks of SAGAN's G and D, as in the official code (``non_local.py``/``model.py`` of
brain-research/self-attention-gan, the same blocks as BigGAN and Miyato & Koyama's cGAN).

G up-block:   x -> CBN(y) -> ReLU -> up2 -> SNConv3x3 -> CBN(y) -> ReLU -> SNConv3x3
              + shortcut  up2 -> SNConv1x1
D down-block: x -> ReLU -> SNConv3x3 -> ReLU -> SNConv3x3 -> avgpool2
              + shortcut  SNConv1x1 -> avgpool2   (1x1 only when downsampling or C_in != C_out)
Optimized first D block (no ReLU on the image): SNConv3x3 -> ReLU -> SNConv3x3 -> avgpool2
              + shortcut  avgpool2 -> SNConv1x1

``spectral_norm=False`` (G only, SAGAN section 5.1's "SN on D" baseline) gives G's block plain
convolutions (``layers.kernel_wrapper.PlainKernel``) in the same places.

Resampling (``layers.resample``): 2x nearest-neighbour upsampling in G, 2x2 average pooling in D.

Each block's ``textbook`` method is the order above, op for op. ``call`` runs it, or, where
``layers.optimizations`` says so (the default), the ``folded`` method beside it: the same values
with G's upsampling and D's pooling folded into their convolutions (``layers.folded_conv``) and, in
training, G's residual sum as one fused kernel (``layers.resample.add_upsampled``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.layers import optimizations
from sagan_tf.layers.conditional_block import ConditionalBlock
from sagan_tf.layers.kernel_wrapper import KernelWrapper
from sagan_tf.layers.resample import add_upsampled, downsample_avg, upsample_nearest
from sagan_tf.layers.spectral_norm import kernel_layer


def sn_conv(filters: int, kernel_size: int, name: str, use_bias: bool = True, spectral_norm: bool = True) -> KernelWrapper:
    """A spectrally normalized ``Conv2D`` with 'same' padding (``spectral_norm=False``: its plain kernel)."""
    conv = keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=use_bias, name=name)
    return kernel_layer(conv, spectral_norm)


def sn_dense(units: int, name: str, use_bias: bool = True, spectral_norm: bool = True) -> KernelWrapper:
    return kernel_layer(keras.layers.Dense(units, use_bias=use_bias, name=name), spectral_norm)


@keras.saving.register_keras_serializable(package="sagan_tf")
class GeneratorBlock(ConditionalBlock):
    """Residual up-block of G with conditional batch norm; ``call(x, labels, training)``.

    ``spectral_norm=False``: the three convolutions use their plain kernels.
    """

    def __init__(
        self,
        filters: int,
        num_classes: int,
        bn_momentum: float = 0.9,
        sync_bn: bool = False,
        upsample: bool = True,
        spectral_norm: bool = True,
        **kwargs,
    ):
        super().__init__(filters, num_classes, bn_momentum, sync_bn, spectral_norm, **kwargs)
        self.upsample = bool(upsample)

    def build(self, input_shape):
        out_shape = tuple(input_shape[:-1]) + (self.filters,)
        if self.upsample:
            out_shape = (input_shape[0], 2 * input_shape[1], 2 * input_shape[2], self.filters)
        self.bn1 = self.cbn("cbn1")
        sn = self.spectral_norm
        self.conv1 = sn_conv(self.filters, 3, "conv1", spectral_norm=sn)
        self.bn2 = self.cbn("cbn2")
        self.conv2 = sn_conv(self.filters, 3, "conv2", spectral_norm=sn)
        self.shortcut = sn_conv(self.filters, 1, "shortcut", spectral_norm=sn)
        self.bn1.build(input_shape)
        self.conv1.build(out_shape[:-1] + (input_shape[-1],))
        self.bn2.build(out_shape)
        self.conv2.build(out_shape)
        self.shortcut.build(out_shape[:-1] + (input_shape[-1],))
        self.built = True

    def call(self, x, labels=None, training=None):
        if self.upsample and optimizations.enabled("fold_upsampling"):
            return self.folded(x, labels, training)
        return self.textbook(x, labels, training)

    def textbook(self, x, labels, training=None):
        """CBN -> ReLU -> up2 -> conv3x3 -> CBN -> ReLU -> conv3x3, plus up2 -> conv1x1 (the official code)."""
        h = self.bn1(x, labels, training=training, relu=True)  # ReLU(CBN(x, y))
        h = self.conv1(self._up(h), training=training)
        h = self.bn2(h, labels, training=training, relu=True)
        h = self.conv2(h, training=training)
        return h + self.shortcut(self._up(x), training=training)

    def folded(self, x, labels, training=None):
        """``textbook`` with up2 folded into conv1 and moved behind the 1x1 shortcut (same values)."""
        h = self.bn1(x, labels, training=training, relu=True)
        h = self.conv1(h, training=training, upsample=True)  # conv3x3(up2(h)) as one transposed convolution
        h = self.bn2(h, labels, training=training, relu=True)
        h = self.conv2(h, training=training)
        shortcut = self.shortcut(x, training=training)  # conv1x1(up2(x)) = up2(conv1x1(x))
        return add_upsampled(h, shortcut, fused=optimizations.fused_elementwise(training))  # h + up2(shortcut)

    def _up(self, t):
        return upsample_nearest(t) if self.upsample else t

    def compute_output_shape(self, input_shape):
        if self.upsample:
            return (input_shape[0], 2 * input_shape[1], 2 * input_shape[2], self.filters)
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(upsample=self.upsample)
        return config


@keras.saving.register_keras_serializable(package="sagan_tf")
class DiscriminatorBlock(keras.layers.Layer):
    """Residual down-block of D; ``optimized=True`` is the first block that sees the image."""

    def __init__(self, filters: int, downsample: bool = True, optimized: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.downsample = bool(downsample)
        self.optimized = bool(optimized)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        self.conv1 = sn_conv(self.filters, 3, "conv1")
        self.conv2 = sn_conv(self.filters, 3, "conv2")
        self.conv1.build(input_shape)
        self.conv2.build(tuple(input_shape[:-1]) + (self.filters,))
        self.learnable_shortcut = self.optimized or self.downsample or in_channels != self.filters
        if self.learnable_shortcut:
            self.shortcut = sn_conv(self.filters, 1, "shortcut")
            self.shortcut.build(input_shape)
        self.built = True

    def call(self, x, training=None):
        if self.downsample and optimizations.enabled("fold_pooling"):
            return self.folded(x, training)
        return self.textbook(x, training)

    def textbook(self, x, training=None):
        """ReLU -> conv3x3 -> ReLU -> conv3x3 -> avgpool2, plus conv1x1 -> avgpool2 (the official code;
        the optimized first block pools its shortcut first and has no ReLU on the image)."""
        down = downsample_avg if self.downsample else (lambda t: t)
        h = x if self.optimized else tf.nn.relu(x)
        h = tf.nn.relu(self.conv1(h, training=training))
        h = down(self.conv2(h, training=training))
        if not self.learnable_shortcut:
            return h + x
        if self.optimized:
            return h + self.shortcut(down(x), training=training)
        return h + down(self.shortcut(x, training=training))

    def folded(self, x, training=None):
        """``textbook`` with avgpool2 folded into conv2 and moved before the 1x1 shortcut (same values)."""
        h = x if self.optimized else tf.nn.relu(x)
        h = tf.nn.relu(self.conv1(h, training=training))
        h = self.conv2(h, training=training, avgpool=True)  # avgpool2(conv3x3(h)) as one stride-2 convolution
        return h + self.shortcut(downsample_avg(x), training=training)  # avgpool2(conv1x1(x)) = conv1x1(avgpool2(x))

    def compute_output_shape(self, input_shape):
        if self.downsample:
            return (input_shape[0], input_shape[1] // 2, input_shape[2] // 2, self.filters)
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, downsample=self.downsample, optimized=self.optimized)
        return config
