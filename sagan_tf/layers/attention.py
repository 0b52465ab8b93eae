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

The softmax is computed in float32 whatever the compute dtype (mixed precision).

Memory: the map beta has B * N * N_key entries (``paper`` at 64x64: N = N_key = 4096, 64 MiB per
image in float32, kept for the backward pass). With ``query_chunk=c`` the layer computes the same
result in blocks of c queries (``attend_chunked``), recomputing each block's map in the backward
pass instead of storing it, so the extra memory is B * c * N_key whatever N: linear in the image
size instead of quadratic.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.layers.kernel_wrapper import KernelWrapper
from sagan_tf.layers.spectral_norm import kernel_layer

VARIANTS = ("paper", "pooled")


def _sn_conv1x1(filters: int, name: str, spectral_norm: bool = True) -> KernelWrapper:
    return kernel_layer(keras.layers.Conv2D(filters, 1, use_bias=False, name=name), spectral_norm)


def attend(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """softmax(query key^T) value, softmax over keys in float32.

    Args: query (B, Nq, Ck), key (B, Nk, Ck), value (B, Nk, Cv).
    Returns: output (B, Nq, Cv) in value's dtype, attention map beta (B, Nq, Nk) float32.
    """
    logits = tf.matmul(tf.cast(query, tf.float32), tf.cast(key, tf.float32), transpose_b=True)
    beta = tf.nn.softmax(logits, axis=-1)
    out = tf.matmul(tf.cast(beta, value.dtype), value)
    return out, beta


def _chain(tensors, after):
    """``tensors`` made to wait for ``after`` (graph mode), so blocks run one at a time."""
    if not after or tf.executing_eagerly():
        return tensors
    with tf.control_dependencies(after):
        return [tf.identity(t) for t in tensors]


def attend_chunked(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, chunk: int) -> tf.Tensor:
    """``attend(query, key, value)[0]`` in blocks of ``chunk`` queries, with bounded memory.

    Forward: each block computes its logits, float32 softmax and output, and the next block starts
    only after the previous one finished (control dependencies), so one block's map is alive at a
    time. Backward (hand-written, the map of each block recomputed instead of stored), for
    logits S = Q K^T, beta = softmax(S), O = beta V and upstream gradient dO:

        dV += beta^T dO      dbeta = dO V^T      dS = beta * (dbeta - rowsum(dbeta * beta))
        dQ  = dS K           dK   += dS^T Q

    all in float32, cast back to the inputs' dtypes. Same result as ``attend`` to float32 rounding.
    """
    num_queries = int(query.shape[1])
    if chunk <= 0:
        raise ValueError(f"chunk must be positive, got {chunk}")
    starts = list(range(0, num_queries, chunk))

    @tf.custom_gradient
    def blocked(q, k, v):
        kf, vf = tf.cast(k, tf.float32), tf.cast(v, tf.float32)
        outputs, previous = [], []
        for start in starts:
            (q_block,) = _chain([q[:, start : start + chunk]], previous)
            out, _ = attend(q_block, k, v)
            outputs.append(out)
            previous = [out]
        output = tf.concat(outputs, axis=1)

        def grad(d_output):
            qf = tf.cast(q, tf.float32)
            d_output = tf.cast(d_output, tf.float32)
            d_queries, d_key, d_value, previous = [], tf.zeros_like(kf), tf.zeros_like(vf), []
            for start in starts:
                q_block, d_out = _chain([qf[:, start : start + chunk], d_output[:, start : start + chunk]], previous)
                beta = tf.nn.softmax(tf.matmul(q_block, kf, transpose_b=True), axis=-1)
                d_value += tf.matmul(beta, d_out, transpose_a=True)
                d_beta = tf.matmul(d_out, vf, transpose_b=True)
                d_logits = beta * (d_beta - tf.reduce_sum(d_beta * beta, axis=-1, keepdims=True))
                d_queries.append(tf.matmul(d_logits, kf))
                d_key += tf.matmul(d_logits, q_block, transpose_a=True)
                previous = [d_queries[-1], d_key, d_value]
            d_query = tf.concat(d_queries, axis=1)
            return tf.cast(d_query, q.dtype), tf.cast(d_key, k.dtype), tf.cast(d_value, v.dtype)

        return output, grad

    return blocked(query, key, value)


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
    """

    def __init__(
        self, variant: str = "pooled", key_divisor: int = 8, query_chunk: int = 0, spectral_norm: bool = True, **kwargs
    ):
        super().__init__(**kwargs)
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
        sn = self.spectral_norm
        self.query_conv = _sn_conv1x1(key_channels, "query", sn)
        self.key_conv = _sn_conv1x1(key_channels, "key", sn)
        self.value_conv = _sn_conv1x1(value_channels, "value", sn)
        self.output_conv = _sn_conv1x1(channels, "output", sn)
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
        if self.query_chunk and not return_attention and self.query_chunk < height * width:
            out, beta = attend_chunked(query, key, value, self.query_chunk), None
        else:
            out, beta = attend(query, key, value)
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
            spectral_norm=self.spectral_norm,
        )
        return config
