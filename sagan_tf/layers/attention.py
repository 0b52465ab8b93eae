"""The self-attention block of SAGAN (paper section 3, eq. 1-3).

For feature maps ``x`` (B, H, W, C) flattened to N = H*W positions, with 1x1 spectrally normalized
convolutions without bias (paper notation -> our sublayer names):

    f(x) = W_f x  -> ``key_conv``        (C/8 channels)
    g(x) = W_g x  -> ``query_conv``      (C/8 channels)
    h(x) = W_h x  -> ``value_conv``
    v(x) = W_v x  -> ``output_conv``     (back to C channels)

    s_ij = f(x_i)^T g(x_j)                                         (eq. 1)
    beta_{j,i} = exp(s_ij) / sum_i exp(s_ij)     softmax over keys i for each query j
    o_j = v( sum_i beta_{j,i} h(x_i) )                             (eq. 2)
    y_i = gamma * o_i + x_i,   gamma a learnable scalar initialised to 0   (eq. 3)

Two variants:

* ``paper``: exactly the equations; h has C/8 channels (C-bar = C/8, section 3) and v maps back to C.
* ``pooled``: the official SAGAN / BigGAN / TF-GAN code: h has C/2 channels, keys and values are
  2x2 max-pooled (N/4 positions, "just for compute"), v is the 1x1 output convolution.

``spectral_norm=False`` leaves the four convolutions unnormalized (``layers.kernel_wrapper.PlainKernel``;
G of SAGAN section 5.1's "SN on D" baseline).

The softmax is computed in float32 whatever the compute dtype (mixed precision; ``ops.attention``).

Memory: the map beta has B * N * N_key entries (``paper`` at 64x64: N = N_key = 4096, 64 MiB per
image in float32, kept for the backward pass). With ``query_chunk=c`` the layer computes the same
result in blocks of c queries (``ops.attention.attend_chunked``), recomputing each block's map in
the backward pass instead of storing it, so the extra memory is B * c * N_key whatever N: linear in
the image size instead of quadratic.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf import ops
from sagan_tf.layers.kernel_wrapper import KernelWrapper
from sagan_tf.layers.op_setting import resolve_ops
from sagan_tf.layers.spectral_norm import kernel_layer
from sagan_tf.ops_choice import OpChoice

VARIANTS = ("paper", "pooled")


def _sn_conv1x1(filters: int, name: str, spectral_norm: bool = True, ops: str | OpChoice = "auto") -> KernelWrapper:
    return kernel_layer(keras.layers.Conv2D(filters, 1, use_bias=False, name=name), spectral_norm, ops)


@keras.saving.register_keras_serializable(package="sagan_tf")
class SelfAttention(keras.layers.Layer):
    """SAGAN self-attention; ``call(x, return_attention=True)`` also returns beta (B, N_query, N_key).

    Args:
        variant: ``"paper"`` or ``"pooled"`` (see module docstring).
        key_divisor: C / key_divisor channels for f and g (paper: 8).
        query_chunk: 0 computes the whole map at once; c > 0 computes it in blocks of c queries
            with the map recomputed in the backward pass (``attend_chunked``): same result, memory
            linear in N. Ignored when the map itself is requested (``return_attention=True``).
        spectral_norm: False: the 1x1 convolutions use their plain kernels.
        ops: the forms of ``sagan_tf.ops`` the layer runs (``layers.op_setting``; its 1x1
            convolutions have no bias, so none applies today).
    """

    def __init__(
        self, variant: str = "pooled", key_divisor: int = 8, query_chunk: int = 0, spectral_norm: bool = True,
        ops: str | OpChoice = "auto", **kwargs,
    ):
        super().__init__(**kwargs)
        self.ops = resolve_ops(ops)
        if variant not in VARIANTS:
            raise ValueError(f"attention variant must be one of {VARIANTS}, got {variant!r}")
        if query_chunk < 0:
            raise ValueError(f"query_chunk must be >= 0, got {query_chunk}")
        self.variant = variant
        self.key_divisor = key_divisor
        self.query_chunk = int(query_chunk)
        self.spectral_norm = bool(spectral_norm)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        key_channels = max(channels // self.key_divisor, 1)
        value_channels = key_channels if self.variant == "paper" else max(channels // 2, 1)
        sn, choice = self.spectral_norm, self.ops
        self.query_conv = _sn_conv1x1(key_channels, "query", sn, choice)
        self.key_conv = _sn_conv1x1(key_channels, "key", sn, choice)
        self.value_conv = _sn_conv1x1(value_channels, "value", sn, choice)
        self.output_conv = _sn_conv1x1(channels, "output", sn, choice)
        self.query_conv.build(input_shape)
        self.key_conv.build(input_shape)
        self.value_conv.build(input_shape)
        self.output_conv.build(tuple(input_shape[:-1]) + (value_channels,))
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="zeros", trainable=True)
        self.built = True

    def call(self, x, training=None, return_attention: bool = False):
        height, width = x.shape[1], x.shape[2]
        batch = tf.shape(x)[0]
        query = self.query_conv(x, training=training)
        key = self.key_conv(x, training=training)
        value = self.value_conv(x, training=training)
        if self.variant == "pooled":
            key = tf.nn.max_pool2d(key, 2, 2, "VALID")
            value = tf.nn.max_pool2d(value, 2, 2, "VALID")

        def flat(t):  # static N: the chunked path loops over query blocks, also with a None batch
            return tf.reshape(t, [batch, t.shape[1] * t.shape[2], t.shape[-1]])

        query, key, value = flat(query), flat(key), flat(value)
        if return_attention:  # the whole map beta, as the caller asks for it
            out, beta = ops.attend(query, key, value)
        else:
            out, beta = ops.attention(query, key, value, query_chunk=self.query_chunk), None
        out = tf.reshape(out, [batch, height, width, out.shape[-1]])
        out = self.output_conv(out, training=training)
        y = tf.cast(self.gamma, x.dtype) * out + x
        if return_attention:
            return y, beta
        return y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            variant=self.variant, key_divisor=self.key_divisor, query_chunk=self.query_chunk,
            spectral_norm=self.spectral_norm, ops=str(self.ops),
        )
        return config
