"""Attention itself, softmax(Q K^T) V (SAGAN eq. 1-2), whole or in blocks of queries.

``attend`` forms the whole map beta (B, N_query, N_key) and keeps it for the backward pass: B * N *
N_key floats (the ``paper`` variant at 64x64: N = N_key = 4096, 64 MiB per image in float32).
``attend_chunked`` computes the same output in blocks of c queries and recomputes each block's map
in the backward pass instead of storing it, so the extra memory is B * c * N_key whatever N: linear
in the image size instead of quadratic. Not a faster form but a leaner one, chosen by its own
setting (``model.attention_chunk``), whatever ``model.ops`` says.

The softmax is computed in float32 whatever the inputs' dtype (mixed precision).
"""

from __future__ import annotations

import tensorflow as tf


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


def attention(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, *, query_chunk: int = 0) -> tf.Tensor:
    """softmax(query key^T) value: whole (``query_chunk`` 0, or at least the number of queries) or in
    blocks of ``query_chunk`` queries (``attend_chunked``)."""
    if query_chunk and query_chunk < int(query.shape[1]):
        return attend_chunked(query, key, value, query_chunk)
    return attend(query, key, value)[0]
