"""Residual blocks of SAGAN's G and D, as in the official code (``non_local.py``/``model.py`` of
brain-research/self-attention-gan, the same blocks as BigGAN and Miyato & Koyama's cGAN).

G up-block:   x -> CBN(y) -> ReLU -> up2 -> SNConv3x3 -> CBN(y) -> ReLU -> SNConv3x3
              + shortcut  up2 -> SNConv1x1
D down-block: x -> ReLU -> SNConv3x3 -> ReLU -> SNConv3x3 -> avgpool2
              + shortcut  SNConv1x1 -> avgpool2   (1x1 only when downsampling or C_in != C_out)
Optimized first D block (no ReLU on the image): SNConv3x3 -> ReLU -> SNConv3x3 -> avgpool2
              + shortcut  avgpool2 -> SNConv1x1

Each block's ``call`` is that sequence, with the up2/pool next to a 3x3 convolution computed by one
op (``ops.upsample_conv3x3``, ``ops.conv3x3_avgpool``). The 1x1 shortcuts are computed at the lower
resolution, which is the same function: nearest-neighbour upsampling copies pixels and a 1x1
convolution acts on each pixel alone, so conv1x1(up2(x)) = up2(conv1x1(x)); average pooling and a
1x1 convolution are both linear and act on different axes, so avgpool2(conv1x1(x)) =
conv1x1(avgpool2(x)) (as the official code's optimized block already orders them). G adds its
upsampled shortcut with ``ops.add_upsampled``.

``spectral_norm=False`` (G only, SAGAN section 5.1's "SN on D" baseline) gives G's block plain
convolutions (``layers.kernel_wrapper.PlainKernel``) in the same places. ``ops``: the forms of
``sagan_tf.ops`` the block runs (``layers.op_setting``).
"""

from __future__ import annotations

from functools import partial

import keras
import tensorflow as tf

from sagan_tf import ops
from sagan_tf.layers.conditional_block import ConditionalBlock
from sagan_tf.layers.kernel_wrapper import KernelWrapper
from sagan_tf.layers.op_setting import resolve_ops
from sagan_tf.layers.spectral_norm import kernel_layer
from sagan_tf.ops_choice import OpChoice


def sn_conv(
    filters: int, kernel_size: int, name: str, use_bias: bool = True, spectral_norm: bool = True, ops: str | OpChoice = "auto"
) -> KernelWrapper:
    """A spectrally normalized ``Conv2D`` with 'same' padding (``spectral_norm=False``: its plain kernel)."""
    conv = keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=use_bias, name=name)
    return kernel_layer(conv, spectral_norm, ops)


def sn_dense(units: int, name: str, use_bias: bool = True, spectral_norm: bool = True, ops: str | OpChoice = "auto") -> KernelWrapper:
    return kernel_layer(keras.layers.Dense(units, use_bias=use_bias, name=name), spectral_norm, ops)


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
        ops: str | OpChoice = "auto",
        **kwargs,
    ):
        super().__init__(filters, num_classes, bn_momentum, sync_bn, spectral_norm, ops, **kwargs)
        self.upsample = bool(upsample)

    def build(self, input_shape):
        out_shape = tuple(input_shape[:-1]) + (self.filters,)
        if self.upsample:
            out_shape = (input_shape[0], 2 * input_shape[1], 2 * input_shape[2], self.filters)
        self.bn1 = self.cbn("cbn1")
        sn, choice = self.spectral_norm, self.ops
        self.conv1 = sn_conv(self.filters, 3, "conv1", spectral_norm=sn, ops=choice)
        self.bn2 = self.cbn("cbn2")
        self.conv2 = sn_conv(self.filters, 3, "conv2", spectral_norm=sn, ops=choice)
        self.shortcut = sn_conv(self.filters, 1, "shortcut", spectral_norm=sn, ops=choice)
        self.bn1.build(input_shape)
        self.conv1.build(out_shape[:-1] + (input_shape[-1],))
        self.bn2.build(out_shape)
        self.conv2.build(out_shape)
        self.shortcut.build(out_shape[:-1] + (input_shape[-1],))
        self.built = True

    def call(self, x, labels=None, training=None):
        """ReLU(CBN(x, y)) -> up2 -> conv3x3 -> ReLU(CBN(., y)) -> conv3x3, plus up2(conv1x1(x))."""
        h = self.bn1(x, labels, training=training, relu=True)
        if self.upsample:
            up_conv = partial(ops.upsample_conv3x3, impl=self.ops.impl("upsample_conv"))
            h = self.conv1(h, training=training, op=up_conv)  # conv3x3(up2(h))
        else:
            h = self.conv1(h, training=training)
        h = self.bn2(h, labels, training=training, relu=True)
        h = self.conv2(h, training=training)
        shortcut = self.shortcut(x, training=training)  # conv1x1(x), upsampled in the sum
        if self.upsample:
            return ops.add_upsampled(h, shortcut, impl=self.ops.impl("add_upsampled", training))
        return h + shortcut

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

    def __init__(
        self, filters: int, downsample: bool = True, optimized: bool = False, ops: str | OpChoice = "auto", **kwargs
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.downsample = bool(downsample)
        self.optimized = bool(optimized)
        self.ops = resolve_ops(ops)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        self.conv1 = sn_conv(self.filters, 3, "conv1", ops=self.ops)
        self.conv2 = sn_conv(self.filters, 3, "conv2", ops=self.ops)
        self.conv1.build(input_shape)
        self.conv2.build(tuple(input_shape[:-1]) + (self.filters,))
        self.learnable_shortcut = self.optimized or self.downsample or in_channels != self.filters
        if self.learnable_shortcut:
            self.shortcut = sn_conv(self.filters, 1, "shortcut", ops=self.ops)
            self.shortcut.build(input_shape)
        self.built = True

    def call(self, x, training=None):
        """ReLU -> conv3x3 -> ReLU -> conv3x3 -> avgpool2, plus conv1x1(avgpool2(x)) (the optimized
        first block has no ReLU on the image; an identity shortcut where the size and width stay)."""
        h = x if self.optimized else tf.nn.relu(x)
        h = tf.nn.relu(self.conv1(h, training=training))
        if self.downsample:
            conv_pool = partial(ops.conv3x3_avgpool, impl=self.ops.impl("conv_avgpool"))
            h = self.conv2(h, training=training, op=conv_pool)  # avgpool2(conv3x3(h))
        else:
            h = self.conv2(h, training=training)
        if not self.learnable_shortcut:
            return h + x
        return h + self.shortcut(ops.downsample_avg(x) if self.downsample else x, training=training)

    def compute_output_shape(self, input_shape):
        if self.downsample:
            return (input_shape[0], input_shape[1] // 2, input_shape[2] // 2, self.filters)
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, downsample=self.downsample, optimized=self.optimized, ops=str(self.ops))
        return config
