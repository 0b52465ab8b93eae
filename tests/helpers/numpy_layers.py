"""Numpy (float64) references of the layers, written independently of the code they check.

The kernel a wrapper must compute with (``reference_kernel``):

* ``SpectralNormalization``: ``normalized_weight(False)``, W / sigma from the layer's own power
  iteration (spectral norm itself is checked against an SVD in tests/layers/test_spectral_norm.py).
* ``PlainKernel`` (G without spectral norm, SAGAN section 5.1): the stored variable itself, read
  directly, so a reference built on it checks that nothing normalizes or rescales the kernel.
"""

import keras
import numpy as np
import tensorflow as tf

from sagan_tf.layers.kernel_wrapper import PlainKernel
from sagan_tf.layers.spectral_norm import SpectralNormalization


def stored_weight(wrapper) -> np.ndarray:
    """The wrapped layer's weight variable (``kernel`` or ``embeddings``) as float64."""
    inner = wrapper.layer
    variable = inner.embeddings if hasattr(inner, "embeddings") else inner.kernel
    return np.asarray(variable.numpy(), np.float64)


def reference_kernel(wrapper) -> np.ndarray:
    if isinstance(wrapper, SpectralNormalization):
        return wrapper.normalized_weight(False).numpy().astype(np.float64)
    if isinstance(wrapper, PlainKernel):
        return stored_weight(wrapper)
    raise TypeError(f"not a kernel wrapper: {type(wrapper).__name__}")


def np_up(x):
    return np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)


def np_block_sums(dy):
    b, h, w, c = dy.shape
    return dy.reshape(b, h // 2, 2, w // 2, 2, c).sum(axis=(2, 4))


def np_conv_same(x, k, bias=None):
    """Stride-1 'same' cross-correlation, x (B,H,W,C), k (kh,kw,C,O)."""
    kh, kw = k.shape[:2]
    h, w = x.shape[1:3]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros(x.shape[:3] + (k.shape[3],))
    for a in range(kh):
        for b in range(kw):
            out += np.einsum("bhwc,co->bhwo", xp[:, a : a + h, b : b + w], k[a, b])
    return out if bias is None else out + bias


def np_cbn(cbn, x, labels, training):
    bn = cbn.batch_norm
    if training:
        mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    else:
        mean = bn.moving_mean.numpy().astype(np.float64)
        var = bn.moving_variance.numpy().astype(np.float64)
    g = cbn.gamma.embeddings.numpy().astype(np.float64)[labels]
    b = cbn.beta.embeddings.numpy().astype(np.float64)[labels]
    return (x - mean) / np.sqrt(var + cbn.epsilon) * g[:, None, None, :] + b[:, None, None, :]


def np_generator_block(block, x, labels, training, upsample=True):
    up = np_up if upsample else (lambda t: t)
    h = np_relu(np_cbn(block.bn1, x, labels, training))
    h = np_sn_conv(block.conv1, up(h))
    h = np_relu(np_cbn(block.bn2, h, labels, training))
    h = np_sn_conv(block.conv2, h)
    return h + np_sn_conv(block.shortcut, up(x))


KINDS = ("dense", "conv2d", "conv2d_transpose", "embedding")


def np_forward(kind, layer, x, w_sn):
    """The wrapped layer's op with an explicit float64 kernel."""
    inner = layer.layer
    if kind == "embedding":
        return w_sn[np.asarray(x)]
    if kind == "dense":
        out = x @ w_sn
    elif kind == "conv2d":
        out = np_conv_same(x, w_sn)
    else:
        out = np_conv2d_transpose_same(x, w_sn, stride=inner.strides[0])
    return out + inner.bias.numpy().astype(np.float64)


def make_wrapped(kind, seed=0, wrapper=SpectralNormalization):
    """A built SN layer (or another kernel ``wrapper``) with random N(0,1) weights (and bias), and a
    float64 input for it."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    if kind == "dense":
        layer, x = wrapper(keras.layers.Dense(8)), rng.normal(size=(4, 12))
    elif kind == "conv2d":
        layer = wrapper(keras.layers.Conv2D(8, 3, padding="same"))
        x = rng.normal(size=(2, 8, 8, 6))
    elif kind == "conv2d_transpose":
        layer = wrapper(keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same"))
        x = rng.normal(size=(2, 4, 4, 6))
    else:
        layer = wrapper(keras.layers.Embedding(10, 16))
        x = np.array([0, 3, 3, 9, 5])
    layer.build(x.shape if kind != "embedding" else (None,))
    w = weight_of(layer)
    w.assign(rng.normal(size=tuple(w.shape)).astype(np.float32))
    if kind != "embedding":
        b = layer.layer.bias
        b.assign(rng.normal(size=tuple(b.shape)).astype(np.float32))
    return layer, x


def tf_input(kind, x):
    return tf.constant(x, tf.int32) if kind == "embedding" else tf.constant(x, tf.float32)


def np_self_attention(x, w_f, w_g, w_h, w_v, gamma, pooled):
    """Paper eq. 1-3 with 1x1 convs as channel matmuls; returns y and beta (B, N_query, N_key).

    f = key, g = query, h = value, v = output projection. s_ij = f(x_i)^T g(x_j);
    beta_{j,i} = softmax over i of s_ij; o_j = v(sum_i beta_{j,i} h(x_i)); y = gamma o + x.
    """
    b, hgt, wid, c = x.shape
    f = x @ w_f
    g = x @ w_g
    h = x @ w_h
    if pooled:  # official code: keys and values max-pooled 2x2 (N/4 positions)
        f = np_max_pool_2x2(f)
        h = np_max_pool_2x2(h)
    f = f.reshape(b, -1, f.shape[-1])  # (B, N_key, C_k): positions i
    g = g.reshape(b, -1, g.shape[-1])  # (B, N, C_k): positions j
    h = h.reshape(b, -1, h.shape[-1])
    s = np.einsum("bic,bjc->bij", f, g)  # s[b, i, j] = f(x_i)^T g(x_j)
    beta = np.transpose(np_softmax(s, axis=1), (0, 2, 1))  # beta[b, j, i], normalized over i
    o = np.einsum("bji,bic->bjc", beta, h) @ w_v
    y = gamma * o.reshape(b, hgt, wid, c) + x
    return y, beta


def kernel_of(sub):
    """The (spectrally normalized, or plain) 1x1 kernel of a sub-layer as a (C_in, C_out) float64 matrix."""
    w = reference_kernel(sub)
    assert w.shape[:2] == (1, 1)
    return w[0, 0]


def np_relu(x):
    return np.maximum(x, 0.0)


def np_sn_conv(sn, x):
    k = reference_kernel(sn)
    bias = sn.layer.bias.numpy().astype(np.float64) if sn.layer.use_bias else None
    return np_conv_same(x, k, bias)


def np_softmax(s, axis):
    s = s - s.max(axis=axis, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=axis, keepdims=True)


def np_max_pool_2x2(t):
    b, h, w, c = t.shape
    return t.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def np_conv2d_transpose_same(x, k, stride):
    """Transposed conv (the adjoint of a 'SAME' strided conv), x (B,H,W,C), k (kh,kw,O,C)."""
    kh, kw = k.shape[:2]
    bsz, h, w, _ = x.shape
    full = np.zeros((bsz, (h - 1) * stride + kh, (w - 1) * stride + kw, k.shape[2]))
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    full[:, i * stride + a, j * stride + b] += x[:, i, j] @ k[a, b].T
    out_h, out_w = h * stride, w * stride
    pad_h = max((h - 1) * stride + kh - out_h, 0) // 2  # TF 'SAME': pad_before = total // 2
    pad_w = max((w - 1) * stride + kw - out_w, 0) // 2
    return full[:, pad_h : pad_h + out_h, pad_w : pad_w + out_w]


def weight_of(layer):
    inner = layer.layer
    return inner.embeddings if isinstance(inner, keras.layers.Embedding) else inner.kernel
