"""SelfAttention against a float64 numpy transcription of SAGAN eq. 1-3 (and the pooled variant).

The layer runs in float32; outputs of order 1 are compared with atol=1e-5, rtol=1e-5, and the
attention map (probabilities) with atol=1e-6.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers import SelfAttention
from tests.helpers.numpy_layers import kernel_of, np_self_attention

ATOL = 1e-5  # float32 layer vs float64 reference
RTOL = 1e-5
MAP_ATOL = 1e-6  # softmax probabilities in [0, 1]


def _make(variant, shape=(2, 8, 8, 16), seed=0, gamma=0.7):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    layer = SelfAttention(variant)
    layer.build(shape)
    for sub in (layer.query_conv, layer.key_conv, layer.value_conv, layer.output_conv):
        k = sub.layer.kernel
        k.assign(rng.normal(size=tuple(k.shape)).astype(np.float32))
    layer.gamma.assign(gamma)
    x = 2.0 * rng.normal(size=shape)  # large enough that the maps are far from uniform
    return layer, x


@pytest.mark.parametrize("variant", ["paper", "pooled"])
def test_matches_numpy_paper_equations(variant):
    layer, x = _make(variant)
    gamma = float(layer.gamma.numpy())
    assert gamma != 0.0
    expected_y, expected_beta = np_self_attention(
        x,
        kernel_of(layer.key_conv),
        kernel_of(layer.query_conv),
        kernel_of(layer.value_conv),
        kernel_of(layer.output_conv),
        gamma,
        pooled=(variant == "pooled"),
    )
    y, beta = layer(tf.constant(x, tf.float32), training=False, return_attention=True)
    n = 8 * 8
    n_key = n if variant == "paper" else n // 4
    assert beta.shape == (2, n, n_key)
    np.testing.assert_allclose(beta.numpy(), expected_beta, atol=MAP_ATOL)
    np.testing.assert_allclose(y.numpy(), expected_y, rtol=RTOL, atol=ATOL)
    # Not the identity, and not a uniform map: the comparison above is not vacuous.
    assert np.abs(y.numpy() - x).max() > 1e-2
    assert expected_beta.max() > 5.0 / n_key


@pytest.mark.parametrize("variant", ["paper", "pooled"])
def test_non_square_map(variant):
    layer, x = _make(variant, shape=(1, 4, 8, 8), seed=2, gamma=-1.3)
    expected_y, expected_beta = np_self_attention(
        x,
        kernel_of(layer.key_conv),
        kernel_of(layer.query_conv),
        kernel_of(layer.value_conv),
        kernel_of(layer.output_conv),
        -1.3,
        pooled=(variant == "pooled"),
    )
    y, beta = layer(tf.constant(x, tf.float32), training=False, return_attention=True)
    np.testing.assert_allclose(beta.numpy(), expected_beta, atol=MAP_ATOL)
    np.testing.assert_allclose(y.numpy(), expected_y, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("variant", ["paper", "pooled"])
def test_channel_counts(variant):
    layer, _ = _make(variant)
    c = 16
    value_c = c // 8 if variant == "paper" else c // 2
    assert tuple(layer.query_conv.layer.kernel.shape) == (1, 1, c, c // 8)
    assert tuple(layer.key_conv.layer.kernel.shape) == (1, 1, c, c // 8)
    assert tuple(layer.value_conv.layer.kernel.shape) == (1, 1, c, value_c)
    assert tuple(layer.output_conv.layer.kernel.shape) == (1, 1, value_c, c)
    for sub in (layer.query_conv, layer.key_conv, layer.value_conv, layer.output_conv):
        assert not sub.layer.use_bias


@pytest.mark.parametrize("variant", ["paper", "pooled"])
def test_initial_gamma_is_zero_and_gives_identity(variant):
    keras.utils.set_random_seed(1)
    layer = SelfAttention(variant)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 16)).astype(np.float32)
    y = layer(tf.constant(x), training=True)
    assert float(layer.gamma.numpy()) == 0.0
    assert any(w is layer.gamma for w in layer.trainable_weights)
    np.testing.assert_array_equal(y.numpy(), x)


@pytest.mark.parametrize("variant", ["paper", "pooled"])
def test_attention_rows_sum_to_one(variant):
    layer, x = _make(variant, shape=(3, 16, 16, 8), seed=4)
    _, beta = layer(tf.constant(x, tf.float32), training=False, return_attention=True)
    beta = beta.numpy()
    n = 16 * 16
    assert beta.shape == (3, n, n if variant == "paper" else n // 4)
    assert beta.min() >= 0.0
    np.testing.assert_allclose(beta.sum(axis=-1), np.ones((3, n)), atol=1e-5)  # float32 sum of 256 terms


def test_training_advances_every_sub_layer_u():
    layer, x = _make("pooled")
    subs = (layer.query_conv, layer.key_conv, layer.value_conv, layer.output_conv)
    before = [s.u.numpy().copy() for s in subs]
    layer(tf.constant(x, tf.float32), training=False)
    assert all(np.array_equal(s.u.numpy(), b) for s, b in zip(subs, before, strict=True))
    layer(tf.constant(x, tf.float32), training=True)
    assert all(not np.allclose(s.u.numpy(), b) for s, b in zip(subs, before, strict=True))


@pytest.mark.parametrize("variant", ["paper", "pooled"])
def test_serialization_round_trip(variant):
    layer, x = _make(variant)
    config = keras.layers.serialize(layer)
    clone = keras.layers.deserialize(config)
    assert isinstance(clone, SelfAttention)
    assert clone.variant == variant and clone.key_divisor == 8
    if not clone.built:
        clone.build(x.shape)
    assert len(clone.get_weights()) == len(layer.get_weights())
    clone.set_weights(layer.get_weights())
    tx = tf.constant(x, tf.float32)
    y1, b1 = layer(tx, training=False, return_attention=True)
    y2, b2 = clone(tx, training=False, return_attention=True)
    np.testing.assert_array_equal(y2.numpy(), y1.numpy())
    np.testing.assert_array_equal(b2.numpy(), b1.numpy())


def test_invalid_variant():
    with pytest.raises(ValueError):
        SelfAttention("linear")
