"""Class weights instead of integer labels: G's conditional batch norm mixes the classes' rows.

A one-hot weight row must give exactly the integer label's result (the product with a one-hot row
is exact in float32); in between, the layer must equal the numpy blend of the two rows, and G must
equal G with integer labels after the blended rows were written into a spare class of every
conditional batch norm (an independent path through the network).
"""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.layers import ConditionalBatchNormalization
from sagan_tf.training.builders import build_generator
from tests.helpers import REPO
from tests.helpers.exports import randomize

SHAPE = (4, 4, 4, 8)
EPS = 1e-5


def blend(a: int, b: int, t: float, num_classes: int) -> np.ndarray:
    w = np.zeros(num_classes)
    w[a] += 1.0 - t
    w[b] += t
    return w


def conditional_norms(generator) -> list[ConditionalBatchNormalization]:
    return [layer for layer in generator._flatten_layers() if isinstance(layer, ConditionalBatchNormalization)
            and layer.num_classes > 0]


@pytest.fixture(scope="module")
def layer():
    rng = np.random.default_rng(0)
    cbn = ConditionalBatchNormalization(5)
    cbn.build(SHAPE)
    cbn.gamma.embeddings.assign((1.0 + 0.5 * rng.normal(size=(5, 8))).astype(np.float32))
    cbn.beta.embeddings.assign(rng.normal(size=(5, 8)).astype(np.float32))
    cbn.batch_norm.moving_mean.assign(rng.normal(size=8).astype(np.float32))
    cbn.batch_norm.moving_variance.assign(rng.uniform(0.5, 2.0, 8).astype(np.float32))
    x = tf.constant(rng.normal(size=SHAPE), tf.float32)
    return cbn, x


@pytest.mark.parametrize("training", [False, True])
def test_one_hot_weights_are_exactly_the_integer_labels(layer, training):
    cbn, x = layer
    labels = np.array([0, 3, 4, 3], np.int32)
    one_hot = np.eye(5, dtype=np.float32)[labels]
    by_label = cbn(x, tf.constant(labels), training=training).numpy()
    by_weights = cbn(x, tf.constant(one_hot), training=training).numpy()
    np.testing.assert_array_equal(by_weights, by_label)


def test_mixed_weights_are_the_numpy_blend_of_the_two_rows(layer):
    cbn, x = layer
    weights = np.stack([blend(0, 3, t, 5) for t in (0.25, 0.5, 0.8)] + [blend(2, 2, 0.3, 5)])
    out = cbn(x, tf.constant(weights, tf.float32), training=False).numpy()
    g = cbn.gamma.embeddings.numpy().astype(np.float64)
    b = cbn.beta.embeddings.numpy().astype(np.float64)
    mean = cbn.batch_norm.moving_mean.numpy().astype(np.float64)
    var = cbn.batch_norm.moving_variance.numpy().astype(np.float64)
    normalized = (x.numpy().astype(np.float64) - mean) / np.sqrt(var + EPS)
    expected = normalized * (weights @ g)[:, None, None, :] + (weights @ b)[:, None, None, :]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module", params=["fashion_mnist32.yaml", "dcgan_fashion_mnist32.yaml"])
def generator(request):
    overrides = ["model.ch=4", "train.precision=float32"] + (["data.num_classes=10", "data.label_key=label"] if "dcgan" in request.param else [])
    cfg = config_lib.load(REPO / "configs" / request.param, overrides)
    g = build_generator(cfg)
    randomize(g, seed=1)
    return g


def test_generator_with_one_hot_weights_equals_integer_labels(generator):
    z = tf.constant(np.random.default_rng(2).standard_normal((3, generator.z_dim)), tf.float32)
    labels = np.array([1, 7, 9], np.int32)
    by_label, maps_label = generator((z, tf.constant(labels)), training=False, return_attention=True)
    weights = tf.constant(np.eye(10, dtype=np.float32)[labels])
    by_weights, maps_weights = generator((z, weights), training=False, return_attention=True)
    np.testing.assert_array_equal(by_weights.numpy(), by_label.numpy())
    assert list(maps_weights) == list(maps_label) and maps_label
    for name in maps_label:
        np.testing.assert_array_equal(maps_weights[name].numpy(), maps_label[name].numpy())


def test_generator_mixture_equals_a_spare_class_holding_the_blended_rows(generator):
    """G((z, (1 - t) e_a + t e_b)) == G((z, k)) once every CBN's row k holds (1 - t) row_a + t row_b."""
    a, b, spare, t = 2, 6, 0, 0.35
    z = tf.constant(np.random.default_rng(3).standard_normal((1, generator.z_dim)), tf.float32)
    mixed = generator((z, tf.constant(blend(a, b, t, 10)[None], tf.float32)), training=False).numpy()
    norms = conditional_norms(generator)
    assert len(norms) >= 3
    saved = [(n.gamma.embeddings.numpy(), n.beta.embeddings.numpy()) for n in norms]
    try:
        for n, (g, bt) in zip(norms, saved, strict=True):
            for table, values in ((n.gamma.embeddings, g), (n.beta.embeddings, bt)):
                rows = values.astype(np.float64)
                rows[spare] = (1.0 - t) * rows[a] + t * rows[b]
                table.assign(rows.astype(np.float32))
        expected = generator((z, tf.constant([spare], tf.int32)), training=False).numpy()
    finally:
        for n, (g, bt) in zip(norms, saved, strict=True):
            n.gamma.embeddings.assign(g)
            n.beta.embeddings.assign(bt)
    np.testing.assert_allclose(mixed, expected, atol=1e-5)
    ends = [generator((z, tf.constant([c], tf.int32)), training=False).numpy() for c in (a, b)]
    assert min(np.abs(mixed - end).max() for end in ends) > 1e-2  # the mixture is neither end
