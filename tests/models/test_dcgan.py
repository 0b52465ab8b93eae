"""The DCGAN-style SAGAN: shapes per resolution, attention placement, and G and D against numpy.

Models are tiny (ch=4). ``tests/helpers/numpy_networks.py`` re-computes both networks in float64 with the
PyTorch tutorial's convolution definitions (k=4, s=2, p=1). Float32 vs float64 through 3-5 layers:
images (tanh, order 1) at atol=1e-4; logits at 1e-5 relative to their magnitude + 1e-5.
"""

import functools

import keras
import numpy as np
import pytest

from sagan_tf import architectures
from sagan_tf.layers import SelfAttention
from sagan_tf.models import DCGANDiscriminator, DCGANGenerator
from tests.helpers import numpy_networks
from tests.helpers.training import randomize_discriminator

generator_resolutions = functools.partial(architectures.generator_resolutions, "dcgan")
discriminator_resolutions = functools.partial(architectures.discriminator_resolutions, "dcgan")

Z_DIM = 8
NUM_CLASSES = 5
CH = 4


def _generator(resolution=32, num_classes=NUM_CLASSES, attention=None, variant="paper", channels=1, seed=0):
    keras.utils.set_random_seed(seed)
    g = DCGANGenerator(resolution, CH, Z_DIM, num_classes, channels, attention, variant)
    g.build()
    return g


def _discriminator(resolution=32, num_classes=NUM_CLASSES, attention=None, variant="paper", channels=1, seed=0):
    keras.utils.set_random_seed(seed)
    d = DCGANDiscriminator(resolution, CH, num_classes, channels, attention, variant)
    d.build()
    return d


def _z_labels(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, Z_DIM)).astype(np.float32), rng.integers(0, NUM_CLASSES, batch).astype(np.int32)


def _images(resolution, batch=2, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=(batch, resolution, resolution, channels)).astype(np.float32)


def randomize_generator(g, rng):
    """Class-dependent BN gains/biases, non-trivial moving statistics, non-zero attention gammas."""
    for block in g.blocks:
        cbn = block.bn
        shape = tuple(cbn.gamma.embeddings.shape)
        cbn.gamma.embeddings.assign((1.0 + 0.3 * rng.normal(size=shape)).astype(np.float32))
        cbn.beta.embeddings.assign((0.3 * rng.normal(size=shape)).astype(np.float32))
        c = shape[1]
        cbn.batch_norm.moving_mean.assign((0.1 * rng.normal(size=c)).astype(np.float32))
        cbn.batch_norm.moving_variance.assign(rng.uniform(0.5, 2.0, size=c).astype(np.float32))
    for att in g.attention_layers:
        att.gamma.assign(0.7)


# ----------------------------------------------------------------------------- block tables


def test_block_resolutions():
    assert generator_resolutions(28) == [7, 14]
    assert generator_resolutions(32) == [4, 8, 16]
    assert generator_resolutions(64) == [4, 8, 16, 32]
    assert discriminator_resolutions(28) == [14, 7]
    assert discriminator_resolutions(32) == [16, 8, 4]
    assert discriminator_resolutions(64) == [32, 16, 8, 4]


# ----------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("num_classes", [0, NUM_CLASSES])
@pytest.mark.parametrize("resolution", [28, 32, 64])
def test_shapes_per_resolution(resolution, num_classes):
    channels = 3 if resolution == 64 else 1
    g = _generator(resolution, num_classes, channels=channels)
    d = _discriminator(resolution, num_classes, channels=channels)
    z, y = _z_labels(batch=3)
    for training in (False, True):
        images = g((z, y), training=training).numpy()
        assert images.shape == (3, resolution, resolution, channels) and images.dtype == np.float32
        assert np.abs(images).max() <= 1.0 and images.std() > 1e-4
        logits = d((images, y), training=training).numpy()
        assert logits.shape == (3,) and np.all(np.isfinite(logits))
    # Channels: G halves from the start block down to ch, D doubles from ch.
    sizes = generator_resolutions(resolution)
    assert [b.filters for b in g.blocks] == [CH * 2 ** (len(sizes) - 1 - i) for i in range(len(sizes))]
    assert [b.filters for b in d.blocks] == [CH * 2**i for i in range(len(sizes))]
    assert d.feature_size == sizes[0] ** 2 * CH * 2 ** (len(sizes) - 1)


# ----------------------------------------------------------------------------- attention placement


@pytest.mark.parametrize(
    "resolution, variant, g_maps, d_maps",
    [
        (28, "paper", {"attention_7": (49, 49), "attention_14": (196, 196)},
         {"attention_14": (196, 196), "attention_7": (49, 49)}),
        (32, "pooled", {"attention_8": (64, 16), "attention_16": (256, 64)},
         {"attention_8": (64, 16), "attention_4": (16, 4)}),
        (64, "paper", {"attention_16": (256, 256), "attention_32": (1024, 1024)},
         {"attention_8": (64, 64), "attention_4": (16, 16)}),
    ],
)
def test_attention_after_the_last_two_blocks(resolution, variant, g_maps, d_maps):
    """Two attention layers per network by default; maps (B, N_query, N_key), rows summing to 1."""
    g = _generator(resolution, variant=variant)
    d = _discriminator(resolution, variant=variant)
    for net in (g, d):
        assert len(net.attention_layers) == 2
        assert sum(isinstance(layer, SelfAttention) for layer in net.layers) == 2
    z, y = _z_labels(batch=2)
    images, maps = g((z, y), training=False, return_attention=True)
    assert list(maps) == list(g_maps)  # in forward order
    logits, maps_d = d((images, y), training=False, return_attention=True)
    assert list(maps_d) == list(d_maps)
    for expected, got in ((g_maps, maps), (d_maps, maps_d)):
        for name, (n_query, n_key) in expected.items():
            beta = got[name].numpy()
            assert beta.shape == (2, n_query, n_key)
            np.testing.assert_allclose(beta.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(images.numpy(), g((z, y), training=False).numpy())
    np.testing.assert_array_equal(logits.numpy(), d((images, y), training=False).numpy())


def test_attention_resolutions_can_be_chosen():
    g = _generator(64, attention=(8,))
    d = _discriminator(64, attention=(32, 16, 4))
    assert [a.name for a in g.attention_layers] == ["attention_8"]
    assert [a.name for a in d.attention_layers] == ["attention_32", "attention_16", "attention_4"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: DCGANGenerator(resolution=32, ch=4, z_dim=8, attention=(32,)),  # the output layer, no block
        lambda: DCGANDiscriminator(resolution=32, ch=4, attention=(32,)),  # D's first block outputs 16
        lambda: DCGANGenerator(resolution=28, ch=4, z_dim=8, attention_variant="pooled"),  # 7x7 cannot pool
        lambda: DCGANDiscriminator(resolution=28, ch=4, attention=(7,), attention_variant="pooled"),
        lambda: DCGANGenerator(resolution=128, ch=4, z_dim=8),
        lambda: DCGANDiscriminator(resolution=48, ch=4),
    ],
)
def test_invalid_configuration_raises(make):
    with pytest.raises(ValueError):
        make()


# ----------------------------------------------------------------------------- against numpy


@pytest.mark.parametrize("resolution, num_classes, variant", [(28, NUM_CLASSES, "paper"), (32, 0, "pooled")])
def test_generator_matches_numpy(resolution, num_classes, variant):
    g = _generator(resolution, num_classes, variant=variant, seed=1)
    randomize_generator(g, np.random.default_rng(1))
    z, y = _z_labels(batch=3, seed=1)
    images, maps = g((z, y), training=False, return_attention=True)
    expected, expected_maps = numpy_networks.generator(g, z, y)
    np.testing.assert_allclose(images.numpy(), expected, rtol=0, atol=1e-4)
    assert expected.std() > 0.05  # not a saturated or constant image
    assert list(maps) == list(expected_maps)
    for name, beta in maps.items():
        np.testing.assert_allclose(beta.numpy(), expected_maps[name], rtol=0, atol=1e-5, err_msg=name)


def test_conditional_generator_depends_on_labels_unconditional_ignores_them():
    z, _ = _z_labels(batch=2, seed=2)
    g = _generator(32, NUM_CLASSES, seed=2)
    randomize_generator(g, np.random.default_rng(2))
    c1 = g((z, np.array([0, 0], np.int32)), training=False).numpy()
    c2 = g((z, np.array([3, 1], np.int32)), training=False).numpy()
    assert np.abs(c1 - c2).max() > 1e-2
    u = _generator(32, 0, seed=2)
    assert all(block.bn.gamma.embeddings.shape[0] == 1 for block in u.blocks)
    out1 = u((z, np.array([0, 0], np.int32)), training=False).numpy()
    out2 = u((z, np.array([3, 99], np.int32)), training=False).numpy()  # 99: out of range if it were used
    np.testing.assert_array_equal(out1, out2)


@pytest.mark.parametrize("resolution, variant", [(28, "paper"), (32, "pooled")])
def test_projection_discriminator_matches_numpy(resolution, variant):
    """D(x, y) = psi(phi(x)) + <SN-embed(y), phi(x)>, phi the flattened last features."""
    d = _discriminator(resolution, variant=variant, seed=3)
    randomize_discriminator(d, np.random.default_rng(3))
    x = _images(resolution, batch=3, seed=3)
    y1, y2 = np.array([0, 2, 4], np.int32), np.array([1, 2, 3], np.int32)
    d1, maps = d((x, y1), training=False, return_attention=True)
    d1 = d1.numpy().astype(np.float64)
    d2 = d((x, y2), training=False).numpy().astype(np.float64)
    expected, expected_maps = numpy_networks.discriminator(d, x, y1)
    tol = 1e-5 * np.abs(expected).max() + 1e-5
    np.testing.assert_allclose(d1, expected, rtol=0, atol=tol)
    for name, beta in maps.items():
        np.testing.assert_allclose(beta.numpy(), expected_maps[name], rtol=0, atol=1e-5, err_msg=name)
    # The projection identity: only the class term changes with the label.
    phi, _ = numpy_networks.discriminator_features(d, x)
    e = d.embedding.normalized_weight(False).numpy().astype(np.float64)
    np.testing.assert_allclose(d1 - d2, np.sum((e[y1] - e[y2]) * phi, axis=1), rtol=0, atol=tol)
    assert d1[1] == d2[1]
    assert np.abs(d1 - d2)[[0, 2]].min() > 100 * tol  # not vacuous


def test_unconditional_discriminator_has_no_projection():
    d = _discriminator(32, num_classes=0, seed=4)
    assert d.embedding is None and not any("embedding" in w.path for w in d.weights)
    randomize_discriminator(d, np.random.default_rng(4))
    x = _images(32, seed=4)
    out1 = d((x, np.array([0, 1], np.int32)), training=False).numpy()
    out2 = d((x, np.array([3, 7], np.int32)), training=False).numpy()
    np.testing.assert_array_equal(out1, out2)
    expected, _ = numpy_networks.discriminator(d, x, None)
    np.testing.assert_allclose(out1, expected, rtol=0, atol=1e-5 * np.abs(expected).max() + 1e-5)


# ----------------------------------------------------------------------------- serialization


@pytest.mark.parametrize("net", ["G", "D"])
def test_serialization_round_trip(net, tmp_path):
    """get_config -> from_config with copied weights, and a whole-model .keras file, give the same outputs."""
    rng = np.random.default_rng(6)
    if net == "G":
        model = _generator(28, attention=(14,), seed=6)
        randomize_generator(model, rng)
        z, y = _z_labels(batch=2, seed=6)
        inputs = (z, y)
    else:
        model = _discriminator(28, attention=(7, 14), seed=6)
        randomize_discriminator(model, rng)
        inputs = (_images(28, seed=6), np.array([1, 3], np.int32))
    expected = model(inputs, training=False).numpy()

    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert type(clone) is type(model) and clone.get_config() == model.get_config()
    if not clone.built:
        clone.build()
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone(inputs, training=False).numpy(), expected)

    path = tmp_path / f"{net}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded(inputs, training=False).numpy(), expected)
    fresh = (_generator(28, attention=(14,), seed=7) if net == "G" else _discriminator(28, attention=(7, 14), seed=7))
    assert not np.allclose(fresh(inputs, training=False).numpy(), expected)  # the weights matter
