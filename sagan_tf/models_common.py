"""Forward-pass pieces shared by the network families (``models_dcgan``; ``models`` has the same logic inline).

* ``run_blocks``: blocks in order with self-attention after chosen blocks, collecting the attention
  maps beta (B, N_query, N_key) under the attention layer's name (paper Fig. 1 and 5 visualizations).
* ``projection_logits``: the projection discriminator's output (Miyato & Koyama 2018, eq. 3),
  D(x, y) = psi(phi(x)) + <e(y), phi(x)>, with psi and e spectrally normalized (SAGAN section 4).
"""

from __future__ import annotations

from typing import Optional

import tensorflow as tf

_NO_LABELS = object()


def run_blocks(blocks, attention: dict, h: tf.Tensor, labels=_NO_LABELS, training=None) -> tuple[tf.Tensor, dict]:
    """``h`` through ``blocks``; ``attention[i]`` (a ``SelfAttention``) follows block i.

    ``labels`` is passed to every block when given (G's conditional blocks), not at all otherwise.
    Returns the output and ``{attention layer name: beta}`` in forward order.
    """
    maps = {}
    for i, block in enumerate(blocks):
        h = block(h, training=training) if labels is _NO_LABELS else block(h, labels, training=training)
        if i in attention:
            h, maps[attention[i].name] = attention[i](h, training=training, return_attention=True)
    return h, maps


def projection_logits(phi: tf.Tensor, labels, linear, embedding: Optional[object], training=None) -> tf.Tensor:
    """psi(phi) + <embedding(y), phi> as float32 (B,); no class term when ``embedding`` is None."""
    logits = tf.cast(linear(phi, training=training)[:, 0], tf.float32)
    if embedding is not None:
        e = embedding(tf.reshape(labels, [-1]), training=training)
        logits += tf.cast(tf.reduce_sum(tf.cast(e, phi.dtype) * phi, axis=1), tf.float32)
    return logits
