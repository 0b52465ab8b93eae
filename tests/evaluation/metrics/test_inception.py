"""The Inception-v3 path with random weights: preprocessing, pool3 features, logits, weights file."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.metrics.inception import InceptionExtractor, preprocess_for_inception


def test_preprocessing_scales_to_inception_range_and_repeats_grey():
    """A constant image c in [-1, 1] is the pixel value p = (c + 1) * 127.5, then (p - 128) / 128."""
    images = tf.constant([[[[c]] * 8] * 8 for c in (-1.0, 0.0, 1.0)], tf.float32)  # (3, 8, 8, 1)
    out = preprocess_for_inception(images).numpy()
    assert out.shape == (3, 299, 299, 3)
    for i, c in enumerate((-1.0, 0.0, 1.0)):
        np.testing.assert_allclose(out[i], ((c + 1) * 127.5 - 128) / 128, atol=1e-6)
    # A left/right split image stays split after the bilinear resize (no wrap-around, no flip).
    half = np.concatenate([-np.ones((1, 8, 4, 3)), np.ones((1, 8, 4, 3))], axis=2).astype(np.float32)
    resized = preprocess_for_inception(tf.constant(half)).numpy()
    assert resized[0, :, :100].max() < -0.99 and resized[0, :, 200:].min() > 0.99


@pytest.fixture(scope="module")
def random_inception():
    keras.utils.set_random_seed(0)
    return InceptionExtractor("random")


def test_features_are_pool3_and_logits_are_the_top_layer_before_softmax(random_inception):
    images = tf.random.uniform([2, 32, 32, 1], -1, 1, seed=1)
    features, logits = random_inception(images)
    assert features.shape == (2, 2048) and logits.shape == (2, 1000)
    assert (features >= 0).all() and features.std() > 0  # pool3 averages ReLU outputs
    probs = random_inception.network(preprocess_for_inception(images)).numpy()  # Keras' softmax head
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), probs, rtol=1e-3, atol=1e-7)
    assert random_inception.identity == "inception_v3-random"


def test_weights_file_gives_the_same_network(random_inception, tmp_path):
    with pytest.raises(SaganError, match="not found"):
        InceptionExtractor(str(tmp_path / "missing.h5"))
    path = str(tmp_path / "inception.weights.h5")  # stands for Keras' ImageNet weights file
    random_inception.network.save_weights(path)
    keras.utils.set_random_seed(7)
    loaded = InceptionExtractor(path)
    assert loaded.identity.startswith("inception_v3-") and loaded.identity != random_inception.identity
    theirs = random_inception.network.weights
    assert len(loaded.network.weights) == len(theirs) > 300
    for a, b in zip(loaded.network.weights, theirs, strict=True):  # the file's weights, not a new random draw
        np.testing.assert_array_equal(a.numpy(), b.numpy())
