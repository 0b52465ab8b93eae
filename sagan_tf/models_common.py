"""Forward-pass pieces shared by the network families (``models`` and ``models_dcgan``).

* ``run_blocks``: blocks in order with self-attention (or the Table 1 residual substitute) after
  chosen blocks, collecting the attention maps beta (B, N_query, N_key) under the attention layer's
  name when asked (paper Fig. 1 and 5 visualizations).
* ``projection_logits``: the projection discriminator's output (Miyato & Koyama 2018, eq. 3),
  D(x, y) = psi(phi(x)) + <e(y), phi(x)>, with psi and e spectrally normalized (SAGAN section 4).
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf.layers.attention import SelfAttention

_NO_LABELS = object()


def run_blocks(
    blocks, attention: dict, h: tf.Tensor, labels=_NO_LABELS, training=None, return_attention: bool = True
) -> tuple[tf.Tensor, dict]:
    """``h`` through ``blocks``; ``attention[i]`` (a ``SelfAttention`` or another layer) follows block i.

    ``labels`` is passed to every block when given (G's conditional blocks), not at all otherwise.
    Returns the output and ``{attention layer name: beta}`` in forward order; the maps are only
    requested with ``return_attention`` (without it a chunked attention layer never forms the whole
    map) and only from ``SelfAttention`` layers.
    """
    maps = {}
    for i, block in enumerate(blocks):
        h = block(h, training=training) if labels is _NO_LABELS else block(h, labels, training=training)
        layer = attention.get(i)
        if layer is None:
            continue
        if return_attention and isinstance(layer, SelfAttention):
            h, maps[layer.name] = layer(h, training=training, return_attention=True)
        else:
            h = layer(h, training=training)
    return h, maps


def projection_logits(phi: tf.Tensor, labels, linear, embedding: object | None, training=None) -> tf.Tensor:
    """psi(phi) + <embedding(y), phi> as float32 (B,); no class term when ``embedding`` is None."""
    logits = tf.cast(linear(phi, training=training)[:, 0], tf.float32)
    if embedding is not None:
        e = embedding(tf.reshape(labels, [-1]), training=training)
        logits += tf.cast(tf.reduce_sum(tf.cast(e, phi.dtype) * phi, axis=1), tf.float32)
    return logits
