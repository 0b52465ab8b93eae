"""Generator and projection Discriminator: shapes, attention placement, and the projection identity.

Models are tiny (ch=8). Hand compositions run the models' own sub-layers in float32 (compared at
rtol=1e-5 / atol=1e-5); the projection identity is checked in float64 numpy against float32 logits
of magnitude ~10-100, with tolerances scaled to the logits (1e-5 relative).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers import SelfAttention
from sagan_tf.models import Discriminator, Generator
from tests.helpers.training import randomize_discriminator, randomize_generator

Z_DIM = 16
NUM_CLASSES = 5


def _generator(resolution=32, num_classes=NUM_CLASSES, attention=(16,), variant="pooled", seed=0):
    keras.utils.set_random_seed(seed)
    g = Generator(
        resolution=resolution,
        ch=8,
        z_dim=Z_DIM,
        num_classes=num_classes,
        attention=attention,
        attention_variant=variant,
    )
    g.build()
    return g


def _discriminator(resolution=32, num_classes=NUM_CLASSES, attention=(16,), seed=0):
    keras.utils.set_random_seed(seed)
    d = Discriminator(resolution=resolution, ch=8, num_classes=num_classes, attention=attention)
    d.build()
    return d


def _inputs_g(batch=2, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    z = tf.constant(rng.normal(size=(batch, Z_DIM)), tf.float32)
    y = tf.constant(labels if labels is not None else rng.integers(0, NUM_CLASSES, size=batch), tf.int32)
    return z, y


def _images(resolution, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-1, 1, size=(batch, resolution, resolution, 3)), tf.float32)


# ----------------------------------------------------------------------------- shapes and range


@pytest.mark.parametrize("resolution", [32, 64])
def test_generator_shape_and_range(resolution):
    g = _generator(resolution)
    randomize_generator(g, np.random.default_rng(0))
    z, y = _inputs_g(batch=3)
    for training in (False, True):
        images = g((z, y), training=training).numpy()
        assert images.shape == (3, resolution, resolution, 3)
        assert images.dtype == np.float32
        assert np.abs(images).max() <= 1.0
        assert images.std() > 1e-3  # not a constant image


@pytest.mark.parametrize("resolution", [32, 64])
def test_discriminator_shape(resolution):
    d = _discriminator(resolution)
    logits = d((_images(resolution, batch=3), tf.constant([0, 1, 4])), training=False).numpy()
    assert logits.shape == (3,)
    assert np.all(np.isfinite(logits))


def test_generator_is_tanh_of_hand_composition():
    g = _generator(32)
    rng = np.random.default_rng(1)
    randomize_generator(g, rng)
    for block in g.blocks:  # non-trivial moving statistics for inference mode
        for cbn in (block.bn1, block.bn2):
            c = cbn.batch_norm.moving_mean.shape[0]
            cbn.batch_norm.moving_mean.assign((0.2 * rng.normal(size=c)).astype(np.float32))
            cbn.batch_norm.moving_variance.assign(rng.uniform(0.5, 2.0, size=c).astype(np.float32))
    z, y = _inputs_g(batch=2, seed=1)
    h = tf.reshape(g.linear(z, training=False), [-1, 4, 4, 4 * 8])  # g_init=4 at resolution 32
    placed = 0
    for block in g.blocks:
        h = block(h, y, training=False)
        if h.shape[1] == 16:  # attention=(16,): after the block that outputs 16x16
            h = g.attention_layers[0](h, training=False)
            placed += 1
    assert placed == 1
    h = tf.nn.relu(g.output_bn(h, training=False))
    expected = np.tanh(g.output_conv(h, training=False).numpy().astype(np.float64))
    np.testing.assert_allclose(g((z, y), training=False).numpy(), expected, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- attention placement


@pytest.mark.parametrize("variant, n_key", [("pooled", 64), ("paper", 256)])
def test_generator_attention_at_16(variant, n_key):
    g = _generator(32, attention=(16,), variant=variant)
    assert len(g.attention_layers) == 1
    assert sum(isinstance(layer, SelfAttention) for layer in g.layers) == 1
    z, y = _inputs_g(batch=2)
    randomize_generator(g, np.random.default_rng(2))
    images, maps = g((z, y), training=False, return_attention=True)
    assert list(maps) == [g.attention_layers[0].name]
    beta = maps[g.attention_layers[0].name].numpy()
    assert beta.shape == (2, 256, n_key)  # N_query = 16 * 16
    np.testing.assert_allclose(beta.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(images.numpy(), g((z, y), training=False).numpy())


def test_attention_count_for_8_and_16():
    g = _generator(32, attention=(8, 16))
    d = _discriminator(32, attention=(8, 16))
    assert len(g.attention_layers) == 2
    assert len(d.attention_layers) == 2
    z, y = _inputs_g(batch=2)
    _, g_maps = g((z, y), training=False, return_attention=True)
    assert sorted(m.shape[1] for m in g_maps.values()) == [64, 256]
    _, d_maps = d((_images(32), y), training=False, return_attention=True)
    assert sorted(m.shape[1] for m in d_maps.values()) == [64, 256]


def test_attention_at_64_resolution():
    g = _generator(64, attention=(32,))
    d = _discriminator(64, attention=(32,))
    z, y = _inputs_g(batch=1)
    _, g_maps = g((z, y), training=False, return_attention=True)
    _, d_maps = d((_images(64, batch=1), y), training=False, return_attention=True)
    assert [m.shape for m in g_maps.values()] == [(1, 1024, 256)]  # 32x32 queries, 16x16 pooled keys
    assert [m.shape for m in d_maps.values()] == [(1, 1024, 256)]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Generator(resolution=32, ch=8, z_dim=Z_DIM, attention=(4,)),  # the linear's 4x4, no block
        lambda: Generator(resolution=32, ch=8, z_dim=Z_DIM, attention=(64,)),
        lambda: Generator(resolution=32, ch=8, z_dim=Z_DIM, attention=(12,)),
        lambda: Discriminator(resolution=32, ch=8, attention=(32,)),  # D's first block outputs 16
        lambda: Discriminator(resolution=64, ch=8, attention=(64,)),
        lambda: Generator(resolution=48, ch=8, z_dim=Z_DIM),
        lambda: Discriminator(resolution=48, ch=8),
    ],
)
def test_invalid_configuration_raises(make):
    with pytest.raises(ValueError):
        make()


# ----------------------------------------------------------------------------- projection discriminator


def _phi(d, x):
    """phi(x): the blocks (and attention after the first block of each requested size), ReLU, sum."""
    h = x
    placed = set()
    used = 0
    for block in d.blocks:
        h = block(h, training=False)
        res = h.shape[1]
        if res in d.attention and res not in placed:
            placed.add(res)
            h = d.attention_layers[used](h, training=False)
            used += 1
    assert used == len(d.attention_layers)
    return np.maximum(h.numpy().astype(np.float64), 0.0).sum(axis=(1, 2))


def test_projection_identity():
    d = _discriminator(32, attention=(16,))
    rng = np.random.default_rng(3)
    randomize_discriminator(d, rng)
    x = _images(32, batch=3, seed=3)
    y1 = np.array([0, 2, 4])
    y2 = np.array([1, 2, 3])
    d1 = d((x, tf.constant(y1)), training=False).numpy().astype(np.float64)
    d2 = d((x, tf.constant(y2)), training=False).numpy().astype(np.float64)

    phi = _phi(d, x)
    assert phi.shape == (3, 8 * 2)  # the last block's channels
    e = d.embedding.normalized_weight(False).numpy().astype(np.float64)
    tol = 1e-5 * (np.abs(d1) + np.abs(d2)).max() + 1e-5  # float32 logits, relative 1e-5
    np.testing.assert_allclose(d1 - d2, np.sum((e[y1] - e[y2]) * phi, axis=1), rtol=0, atol=tol)
    assert d1[1] == d2[1]  # same label: same logit
    assert np.abs(d1 - d2)[[0, 2]].min() > 100 * tol  # the identity is not vacuous

    # The raw (not spectrally normalized) embedding does not satisfy it.
    e_raw = d.embedding.layer.embeddings.numpy().astype(np.float64)
    assert not np.allclose(d1 - d2, np.sum((e_raw[y1] - e_raw[y2]) * phi, axis=1), rtol=0, atol=tol)

    # Full logit: psi(phi) + <e(y), phi>, psi the spectrally normalized linear layer.
    w = d.linear.normalized_weight(False).numpy().astype(np.float64)
    b = d.linear.layer.bias.numpy().astype(np.float64)
    expected = (phi @ w)[:, 0] + b[0] + np.sum(e[y1] * phi, axis=1)
    np.testing.assert_allclose(d1, expected, rtol=0, atol=tol)


def test_unconditional_discriminator():
    d = _discriminator(32, num_classes=0)
    assert d.embedding is None
    assert not any("embedding" in w.path for w in d.weights)
    randomize_discriminator(d, np.random.default_rng(4))
    x = _images(32, batch=2, seed=4)
    out1 = d((x, tf.constant([0, 1])), training=False).numpy()
    out2 = d((x, tf.constant([3, 7])), training=False).numpy()
    np.testing.assert_array_equal(out1, out2)
    phi = _phi(d, x)
    w = d.linear.normalized_weight(False).numpy().astype(np.float64)
    b = d.linear.layer.bias.numpy().astype(np.float64)
    expected = (phi @ w)[:, 0] + b[0]
    np.testing.assert_allclose(out1, expected, rtol=0, atol=1e-5 * np.abs(expected).max() + 1e-5)


def test_unconditional_generator_ignores_labels():
    g = _generator(32, num_classes=0)
    for block in g.blocks:
        assert block.bn1.gamma.embeddings.shape[0] == 1
    z, _ = _inputs_g(batch=2, seed=5)
    out1 = g((z, tf.constant([0, 0])), training=False).numpy()
    out2 = g((z, tf.constant([3, 99])), training=False).numpy()  # out of range if it were used
    np.testing.assert_array_equal(out1, out2)

    # A conditional G with class-dependent CBN parameters does depend on the label.
    gc = _generator(32)
    randomize_generator(gc, np.random.default_rng(5))
    c1 = gc((z, tf.constant([0, 0])), training=False).numpy()
    c2 = gc((z, tf.constant([3, 1])), training=False).numpy()
    assert np.abs(c1 - c2).max() > 1e-3


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize("net", ["G", "D"])
def test_model_config_round_trip(net):
    if net == "G":
        model = _generator(32, attention=(8, 16), variant="paper")
        randomize_generator(model, np.random.default_rng(6))
        inputs = _inputs_g(batch=2, seed=6)
    else:
        model = _discriminator(32, attention=(8,))
        randomize_discriminator(model, np.random.default_rng(6))
        inputs = (_images(32, seed=6), tf.constant([1, 3]))
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert type(clone) is type(model)
    assert clone.get_config() == model.get_config()
    if not clone.built:
        clone.build()
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone(inputs, training=False).numpy(), model(inputs, training=False).numpy())
