"""Blocks of the DCGAN-style SAGAN (the tutorial form of SAGAN, ``sagan_tf.models.dcgan``).

They follow the widely used PyTorch tutorial implementation of SAGAN (heykeetae/Self-Attention-GAN,
``sagan_models.py``), itself a DCGAN (Radford et al. 2016) with spectral norm on every layer:

G start block: z -> SN-linear -> reshape to (s, s, C) -> (C)BN -> ReLU
               (the tutorial's 4x4 ConvTranspose on a 1x1 input is the same linear map; as a
               Dense its spectral norm is exactly the operator's)
G up-block:    x -> SN-ConvTranspose 4x4 stride 2 -> (C)BN -> ReLU          (H -> 2H)
D down-block:  x -> SN-Conv 4x4 stride 2 -> LeakyReLU(0.1)                  (H -> H/2)

The batch norms are ``ConditionalBatchNormalization``: per-class gain and bias when
``num_classes > 0``, a plain batch norm with a learned affine when ``num_classes == 0``. Convolutions
followed by a batch norm have no bias (the norm removes it). G's blocks take ``spectral_norm=False``
for plain kernels (``layers.kernel_wrapper.PlainKernel``; SAGAN section 5.1's "SN on D" baseline).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.layers.conditional_block import ConditionalBlock
from sagan_tf.layers.kernel_wrapper import KernelWrapper
from sagan_tf.layers.op_setting import resolve_ops
from sagan_tf.layers.spectral_norm import SpectralNormalization, kernel_layer
from sagan_tf.ops_choice import OpChoice

KERNEL_SIZE = 4  # the tutorial's (and DCGAN's) 4x4 kernels with stride 2


def sn_conv_transpose(
    filters: int, name: str, strides: int = 2, use_bias: bool = True, spectral_norm: bool = True,
    ops: str | OpChoice = "auto",
) -> KernelWrapper:
    """A spectrally normalized 4x4 ``Conv2DTranspose`` with 'same' padding (H -> strides * H);
    ``spectral_norm=False``: its plain kernel."""
    conv = keras.layers.Conv2DTranspose(
        filters, KERNEL_SIZE, strides=strides, padding="same", use_bias=use_bias, name=name
    )
    return kernel_layer(conv, spectral_norm, ops)


@keras.saving.register_keras_serializable(package="sagan_tf")
class DenseStartBlock(ConditionalBlock):
    """G's first block: z (B, z_dim) -> (B, size, size, filters); ``call(z, labels, training)``."""

    def __init__(
        self,
        size: int,
        filters: int,
        num_classes: int,
        bn_momentum: float = 0.9,
        sync_bn: bool = False,
        spectral_norm: bool = True,
        ops: str | OpChoice = "auto",
        **kwargs,
    ):
        super().__init__(filters, num_classes, bn_momentum, sync_bn, spectral_norm, ops, **kwargs)
        self.size = int(size)

    def build(self, input_shape):
        units = self.size * self.size * self.filters
        self.linear = kernel_layer(keras.layers.Dense(units, use_bias=False, name="linear"), self.spectral_norm, self.ops)
        self.bn = self.cbn("cbn")
        self.linear.build(input_shape)
        self.bn.build((input_shape[0], self.size, self.size, self.filters))
        self.built = True

    def call(self, z, labels=None, training=None):
        h = tf.reshape(self.linear(z, training=training), [-1, self.size, self.size, self.filters])
        return self.bn(h, labels, training=training, relu=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size)
        return config


@keras.saving.register_keras_serializable(package="sagan_tf")
class UpConvBlock(ConditionalBlock):
    """G's up-block: SN-ConvTranspose 4x4/2 -> (C)BN -> ReLU; ``call(x, labels, training)``."""

    def build(self, input_shape):
        self.conv = sn_conv_transpose(self.filters, "deconv", use_bias=False, spectral_norm=self.spectral_norm, ops=self.ops)
        self.bn = self.cbn("cbn")
        self.conv.build(input_shape)
        self.bn.build(self.compute_output_shape(input_shape))
        self.built = True

    def call(self, x, labels=None, training=None):
        return self.bn(self.conv(x, training=training), labels, training=training, relu=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * input_shape[1], 2 * input_shape[2], self.filters)


@keras.saving.register_keras_serializable(package="sagan_tf")
class DownConvBlock(keras.layers.Layer):
    """D's down-block: SN-Conv 4x4/2 -> LeakyReLU(``negative_slope``, tutorial: 0.1)."""

    def __init__(self, filters: int, negative_slope: float = 0.1, ops: str | OpChoice = "auto", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.negative_slope = float(negative_slope)
        self.ops = resolve_ops(ops)

    def build(self, input_shape):
        conv = keras.layers.Conv2D(self.filters, KERNEL_SIZE, strides=2, padding="same", name="conv")
        self.conv = SpectralNormalization(conv, ops=self.ops, name="sn_conv")
        self.conv.build(input_shape)
        self.built = True

    def call(self, x, training=None):
        return tf.nn.leaky_relu(self.conv(x, training=training), alpha=self.negative_slope)

    def compute_output_shape(self, input_shape):
        half = [None if d is None else (d + 1) // 2 for d in input_shape[1:3]]  # 'same', stride 2
        return (input_shape[0], *half, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, negative_slope=self.negative_slope, ops=str(self.ops))
        return config
