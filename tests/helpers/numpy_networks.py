"""A float64 numpy transcription of the DCGAN-style SAGAN (the tutorial's PyTorch layers), for tests.

Convolutions follow PyTorch's definitions with the tutorial's arguments (kernel 4, stride 2,
padding 1), written as explicit loops over kernel taps, so they check that Keras' 'same' padding
reproduces them. Weights are read from the Keras layers: the spectrally normalized kernels
``normalized_weight(False)`` (spectral norm itself is tested in tests/layers/test_spectral_norm.py;
the stored kernels of a G without spectral norm, ``numpy_layers.reference_kernel``),
biases, batch-norm statistics and the per-class gains and biases.
"""

import numpy as np

from tests.helpers.numpy_layers import (
    kernel_of,
    np_cbn,
    np_conv_same,
    np_generator_block,
    np_self_attention,
    reference_kernel,
)


def conv_transpose_k4s2p1(x, k, bias=None):
    """PyTorch ConvTranspose2d(k=4, s=2, p=1): out[2i + a - 1] += x[i] k[a]; x (B,H,W,C), k (4,4,O,C)."""
    b, h, w, _ = x.shape
    full = np.zeros((b, 2 * h + 2, 2 * w + 2, k.shape[2]))  # (H - 1) * 2 + 4 before cropping p=1
    for a in range(4):
        for c in range(4):
            full[:, a : a + 2 * h : 2, c : c + 2 * w : 2] += np.einsum("bhwi,oi->bhwo", x, k[a, c])
    out = full[:, 1 : 1 + 2 * h, 1 : 1 + 2 * w]
    return out if bias is None else out + bias


def conv_k4s2p1(x, k, bias=None):
    """PyTorch Conv2d(k=4, s=2, p=1): out[i] = sum_a xpad[2i + a] k[a]; x (B,H,W,C), k (4,4,C,O)."""
    b, h, w, _ = x.shape
    ho, wo = (h + 2 - 4) // 2 + 1, (w + 2 - 4) // 2 + 1
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((b, ho, wo, k.shape[3]))
    for a in range(4):
        for c in range(4):
            out += np.einsum("bhwi,io->bhwo", xp[:, a : a + 2 * ho : 2, c : c + 2 * wo : 2], k[a, c])
    return out if bias is None else out + bias


def _w(sn):
    return reference_kernel(sn)


def _bias(sn):
    return sn.layer.bias.numpy().astype(np.float64) if sn.layer.use_bias else None


def batch_norm_inference(cbn, x, labels):
    """Moving-statistics batch norm with the per-class gain and bias (row 0 when unconditional)."""
    bn = cbn.batch_norm
    mean = bn.moving_mean.numpy().astype(np.float64)
    var = bn.moving_variance.numpy().astype(np.float64)
    rows = np.asarray(labels) if cbn.num_classes > 0 else np.zeros(len(x), int)
    gamma = cbn.gamma.embeddings.numpy().astype(np.float64)[rows][:, None, None, :]
    beta = cbn.beta.embeddings.numpy().astype(np.float64)[rows][:, None, None, :]
    return gamma * (x - mean) / np.sqrt(var + cbn.epsilon) + beta


def attention(layer, x):
    return np_self_attention(
        x,
        kernel_of(layer.key_conv),
        kernel_of(layer.query_conv),
        kernel_of(layer.value_conv),
        kernel_of(layer.output_conv),
        float(layer.gamma.numpy()),
        pooled=layer.variant == "pooled",
    )


def generator(g, z, labels):
    """Inference-mode G(z, y) and the attention maps {name: beta}."""
    start = g.blocks[0]
    h = np.asarray(z, np.float64) @ _w(start.linear)
    h = h.reshape(len(h), start.size, start.size, start.filters)
    h = np.maximum(batch_norm_inference(start.bn, h, labels), 0.0)
    maps = {}
    for i, block in enumerate(g.blocks):
        if i:
            h = np.maximum(batch_norm_inference(block.bn, conv_transpose_k4s2p1(h, _w(block.conv)), labels), 0.0)
        if h.shape[1] in g.attention:
            layer = _layer_for(g, h.shape[1])
            h, maps[layer.name] = attention(layer, h)
    return np.tanh(conv_transpose_k4s2p1(h, _w(g.output_conv), _bias(g.output_conv))), maps


def discriminator_features(d, x):
    """phi(x): the flattened output of the last block (after attention), and the attention maps."""
    h = np.asarray(x, np.float64)
    maps = {}
    for block in d.blocks:
        h = conv_k4s2p1(h, _w(block.conv), _bias(block.conv))
        h = np.where(h > 0, h, block.negative_slope * h)
        if h.shape[1] in d.attention:
            layer = _layer_for(d, h.shape[1])
            h, maps[layer.name] = attention(layer, h)
    return h.reshape(len(h), -1), maps


def discriminator(d, x, labels):
    """psi(phi(x)) + <SN-embed(y), phi(x)> (projection only when num_classes > 0)."""
    phi, maps = discriminator_features(d, x)
    logits = (phi @ _w(d.linear))[:, 0] + _bias(d.linear)[0]
    if d.num_classes > 0:
        logits = logits + np.sum(_w(d.embedding)[np.asarray(labels)] * phi, axis=1)
    return logits, maps


def _layer_for(net, size):
    (layer,) = [a for a in net.attention_layers if a.name == f"attention_{size}"]
    return layer


def np_resnet_generator(g, z, labels):
    """Inference-mode residual G(z, y) in float64 numpy from the stored weights."""
    linear = g.linear
    h = np.asarray(z, np.float64) @ reference_kernel(linear) + linear.layer.bias.numpy()
    h = h.reshape(len(h), 4, 4, g.init_channels)
    for block in g.blocks:
        h = np_generator_block(block, h, labels, training=False)
        if h.shape[1] in g.attention:
            (layer,) = [a for a in g.attention_layers if a.name == f"attention_{h.shape[1]}"]
            h, _ = attention(layer, h)
    h = np.maximum(np_cbn(g.output_bn, h, np.zeros(len(h), int), training=False), 0.0)
    return np.tanh(np_conv_same(h, reference_kernel(g.output_conv), g.output_conv.layer.bias.numpy()))
