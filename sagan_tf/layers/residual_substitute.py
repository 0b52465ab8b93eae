"""A residual block with exactly the parameters of a self-attention block (SAGAN Table 1, "Residual").

SAGAN section 5.1 compares self-attention with "residual blocks with the same number of
parameters" at the same place in G and D. This block is

    y = x + gamma * SNConv_b(ReLU(SNConv_a(ReLU(x)))),   gamma a scalar initialised to 0

like the attention block (eq. 3: a gated residual branch starting as the identity), with SN
convolutions without bias whose sizes make the trainable parameter count equal to
``SelfAttention``'s for the same input channels C:

* ``pooled`` attention (C/8 + C/8 + C/2 + C/2 per input channel, 1.25 C^2): conv_a 3x3 C -> C/8,
  conv_b 1x1 C/8 -> C (9/8 C^2 + 1/8 C^2);
* ``paper`` attention (4 x C/8, 0.5 C^2): conv_a 1x1 C -> C/4, conv_b 1x1 C/4 -> C.

``spectral_norm=False`` (G of SAGAN section 5.1's "SN on D" baseline): plain convolutions.

In general the hidden width is chosen for a 3x3 + 1x1 pair, else a 1x1 + 1x1 pair; a channel count
for which neither matches exactly is an error rather than an unfair comparison.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.layers.attention import VARIANTS
from sagan_tf.layers.blocks import sn_conv
from sagan_tf.layers.op_setting import resolve_ops
from sagan_tf.ops_choice import OpChoice


def attention_parameter_count(channels: int, variant: str, key_divisor: int = 8) -> int:
    """Trainable parameters of ``SelfAttention`` on C channels, without gamma (its 1x1 convs)."""
    key = max(channels // key_divisor, 1)
    value = key if variant == "paper" else max(channels // 2, 1)
    return channels * (2 * key + value) + value * channels


def substitute_shape(channels: int, variant: str, key_divisor: int = 8) -> tuple[int, int]:
    """(kernel size of conv_a, hidden width) with exactly the attention's parameter count."""
    target = attention_parameter_count(channels, variant, key_divisor)
    for kernel in (3, 1):
        per_hidden = (kernel * kernel + 1) * channels  # conv_a kxk C -> k, conv_b 1x1 k -> C
        if target % per_hidden == 0:
            return kernel, target // per_hidden
    raise ValueError(f"no residual block with exactly the parameters of {variant} attention on {channels} channels")


@keras.saving.register_keras_serializable(package="sagan_tf")
class ResidualSubstitute(keras.layers.Layer):
    """The equal-parameter residual block; ``call(x)``. Has a ``gamma`` like ``SelfAttention``."""

    def __init__(
        self, variant: str = "pooled", key_divisor: int = 8, spectral_norm: bool = True, ops: str | OpChoice = "auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.ops = resolve_ops(ops)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.variant = variant
        self.key_divisor = key_divisor
        self.spectral_norm = bool(spectral_norm)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        kernel, hidden = substitute_shape(channels, self.variant, self.key_divisor)
        self.conv_a = sn_conv(hidden, kernel, "conv_a", use_bias=False, spectral_norm=self.spectral_norm, ops=self.ops)
        self.conv_b = sn_conv(channels, 1, "conv_b", use_bias=False, spectral_norm=self.spectral_norm, ops=self.ops)
        self.conv_a.build(input_shape)
        self.conv_b.build(tuple(input_shape[:-1]) + (hidden,))
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros", trainable=True)
        self.built = True

    def call(self, x, training=None):
        h = self.conv_a(tf.nn.relu(x), training=training)
        h = self.conv_b(tf.nn.relu(h), training=training)
        return x + tf.cast(self.gamma, x.dtype) * h

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(variant=self.variant, key_divisor=self.key_divisor, spectral_norm=self.spectral_norm, ops=str(self.ops))
        return config
