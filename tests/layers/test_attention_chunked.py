"""Memory-efficient attention: same values and gradients as the whole-map attention, bounded memory.

References: a float64 numpy attention with its closed-form gradient, and the whole-map layer
(itself tested against numpy in test_attention.py) with identical weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers import SelfAttention
from sagan_tf.ops.attention import attend_chunked

ATOL = 1e-5


def _np_attention_and_grads(q, k, v, d_out):
    """O = softmax(Q K^T) V and dL/dQ, dL/dK, dL/dV for L = sum(O * d_out), in float64."""
    s = q @ np.swapaxes(k, 1, 2)
    e = np.exp(s - s.max(-1, keepdims=True))
    p = e / e.sum(-1, keepdims=True)
    out = p @ v
    d_p = d_out @ np.swapaxes(v, 1, 2)
    d_s = p * (d_p - (d_p * p).sum(-1, keepdims=True))
    return out, d_s @ k, np.swapaxes(d_s, 1, 2) @ q, np.swapaxes(p, 1, 2) @ d_out


def _random_qkv(nq=50, nk=13, ck=8, cv=6, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for shape in ((2, nq, ck), (2, nk, ck), (2, nk, cv), (2, nq, cv))]


@pytest.mark.parametrize("chunk", [1, 16, 50, 64])  # 16 does not divide 50; 64 > N is one block
@pytest.mark.parametrize("graph", [False, True])
def test_values_and_gradients_match_numpy(chunk, graph):
    q, k, v, d_out = _random_qkv()
    expected = _np_attention_and_grads(q, k, v, d_out)
    tensors = [tf.constant(a, tf.float32) for a in (q, k, v, d_out)]

    def run(q, k, v, d_out):
        with tf.GradientTape() as tape:
            tape.watch([q, k, v])
            out = attend_chunked(q, k, v, chunk)
            loss = tf.reduce_sum(out * d_out)
        return [out] + tape.gradient(loss, [q, k, v])

    results = (tf.function(run) if graph else run)(*tensors)
    for name, got, want in zip(("output", "dQ", "dK", "dV"), results, expected, strict=True):
        np.testing.assert_allclose(got.numpy(), want, atol=ATOL, rtol=1e-5, err_msg=name)


def _layer_pair(variant, chunk, shape, seed=0):
    keras.utils.set_random_seed(seed)
    whole = SelfAttention(variant, name="whole")
    chunked = SelfAttention(variant, query_chunk=chunk, name="chunked")
    whole.build(shape)
    chunked.build(shape)
    for a, b in zip(whole.weights, chunked.weights, strict=True):
        b.assign(a)
    whole.gamma.assign(0.8)
    chunked.gamma.assign(0.8)
    x = tf.constant(2.0 * np.random.default_rng(seed).normal(size=shape), tf.float32)
    return whole, chunked, x


@pytest.mark.parametrize("variant", ["paper", "pooled"])
def test_layer_matches_whole_map_layer_in_training(variant):
    """Outputs and every gradient (input, 1x1 kernels, gamma) of a training call agree to 1e-5."""
    whole, chunked, x = _layer_pair(variant, chunk=24, shape=(2, 8, 8, 16))
    results = []
    for layer in (whole, chunked):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        grads = tape.gradient(loss, [x] + layer.trainable_weights)
        results.append([y] + grads)
    for got, want in zip(results[1], results[0], strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=ATOL, rtol=1e-5)
    for a, b in zip(whole.non_trainable_weights, chunked.non_trainable_weights, strict=True):  # SN u advanced alike
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-6)


@pytest.mark.parametrize("variant", ["paper", "pooled"])
def test_unknown_batch_size_as_in_a_serving_signature(variant):
    """Traced with batch None (SavedModel signatures), the chunked layer matches the whole-map one."""
    whole, chunked, x = _layer_pair(variant, chunk=24, shape=(3, 8, 8, 16))
    spec = tf.TensorSpec([None, 8, 8, 16], tf.float32)
    for layer in (whole, chunked):
        layer.fn = tf.function(lambda t, layer=layer: layer(t, training=False), input_signature=[spec])
    np.testing.assert_allclose(chunked.fn(x).numpy(), whole.fn(x).numpy(), atol=ATOL, rtol=1e-5)


def test_map_request_and_serialization():
    whole, chunked, x = _layer_pair("paper", chunk=16, shape=(1, 8, 8, 16))
    y, beta = chunked(x, return_attention=True)  # the map is asked for: computed whole
    y_whole, beta_whole = whole(x, return_attention=True)
    np.testing.assert_allclose(beta.numpy(), beta_whole.numpy(), atol=1e-6)
    np.testing.assert_allclose(y.numpy(), y_whole.numpy(), atol=ATOL)
    assert SelfAttention.from_config(chunked.get_config()).query_chunk == 16
    with pytest.raises(ValueError, match="query_chunk"):
        SelfAttention(query_chunk=-1)


def _largest_tensor(concrete) -> int:
    sizes = [int(np.prod(t.shape.as_list())) for op in concrete.graph.get_operations() for t in op.outputs
             if t.shape.rank is not None and t.shape.is_fully_defined()]
    return max(sizes)


@pytest.mark.parametrize("chunk", [0, 32])
def test_no_tensor_of_the_whole_map_in_forward_or_backward(chunk):
    """Training graph (forward + gradient): the whole map (B, N, N) exists only without chunking."""
    batch, side, channels = 2, 16, 16  # N = 256 positions, paper variant: N_key = N
    layer = SelfAttention("paper", query_chunk=chunk)
    layer.build((batch, side, side, channels))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True))
        return tape.gradient(loss, [x] + layer.trainable_weights)

    concrete = step.get_concrete_function(tf.TensorSpec((batch, side, side, channels), tf.float32))
    n = side * side
    largest = _largest_tensor(concrete)
    if chunk:
        assert largest == batch * chunk * n  # one block's map
    else:
        assert largest == batch * n * n


def test_mixed_bfloat16_inputs_keep_dtype():
    q, k, v, _ = _random_qkv(nq=40, nk=10)
    q16, k16, v16 = (tf.constant(a, tf.bfloat16) for a in (q, k, v))
    out = attend_chunked(q16, k16, v16, 16)
    assert out.dtype == tf.bfloat16
    expected = _np_attention_and_grads(q, k, v, np.zeros((2, 40, 6)))[0]
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), expected, atol=0.1)
