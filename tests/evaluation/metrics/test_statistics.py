"""Reference statistics of real data (computed as numpy would, cached and reused), generated
statistics with class-balanced labels, and the metric dispatch."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from sagan_tf.config import DataConfig
from sagan_tf.evaluation.metrics.fid import GaussianStats, frechet_distance
from sagan_tf.evaluation.metrics.kernel_distance import kid
from sagan_tf.evaluation.metrics.manifold import density_coverage, precision_recall
from sagan_tf.evaluation.metrics.statistics import (
    FeatureSetOptions,
    Statistics,
    balanced_labels,
    cache_path,
    compute_metrics,
    generated_statistics,
    reference_key,
    reference_statistics,
)


def pooled_features(images: np.ndarray) -> np.ndarray:
    """A transparent 'feature model': 8x8 average pooling of a 32x32 image -> 16 features."""
    b = images.shape[0]
    return images.reshape(b, 4, 8, 4, 8, -1).mean(axis=(2, 4, 5)).reshape(b, 16)


class PoolingExtractor:
    identity = "pool8-test"
    has_logits = True

    def __init__(self):
        self.calls = 0

    def __call__(self, images):
        self.calls += 1
        features = pooled_features(np.asarray(images, np.float64))
        return features, features[:, :10] * 5.0


def fmnist(**kw) -> DataConfig:
    return dataclasses.replace(DataConfig(), channels=1, resize="pad", center_crop=False, **kw)


def test_reference_statistics_equal_numpy_on_the_padded_images_and_are_cached(tfds_dir, tmp_path):
    data, extractor = fmnist(), PoolingExtractor()
    stats = reference_statistics(data, extractor, "test", num_real=300, batch_size=128, data_dir=tfds_dir,
                                 cache_dir=tmp_path)
    # Independently: the first 300 test images, padded 28 -> 32 with zeros, scaled to [-1, 1].
    ds = tfds.load("fashion_mnist", split="test", data_dir=tfds_dir, shuffle_files=False)
    rows = list(tfds.as_numpy(ds.take(300)))
    x = np.stack([np.pad(r["image"], ((2, 2), (2, 2), (0, 0))) for r in rows]).astype(np.float64) / 127.5 - 1
    y = np.array([r["label"] for r in rows])
    f = pooled_features(x)
    np.testing.assert_allclose(stats.overall.mu, f.mean(0), atol=1e-6)  # float32 pixels
    np.testing.assert_allclose(stats.overall.sigma, np.cov(f, rowvar=False), atol=1e-6)
    assert stats.overall.count == 300 and sorted(stats.classes) == sorted(set(y.tolist()))
    np.testing.assert_allclose(stats.classes[3].mu, f[y == 3].mean(0), atol=1e-6)

    path = cache_path(tmp_path, reference_key(data, "test", 300, extractor.identity))
    assert path.exists() and extractor.calls == 3
    again = reference_statistics(data, extractor, "test", num_real=300, data_dir=tfds_dir, cache_dir=tmp_path)
    assert extractor.calls == 3 and again.features is None  # served from the cache
    np.testing.assert_array_equal(again.classes[3].sigma, stats.classes[3].sigma)
    # The feature vectors are not cached: asking for them reads the images again.
    kept = reference_statistics(data, extractor, "test", num_real=300, batch_size=128, data_dir=tfds_dir,
                                cache_dir=tmp_path, keep_features=True)
    assert extractor.calls == 6 and kept.features.dtype == np.float32
    np.testing.assert_allclose(kept.features, f, atol=1e-6)
    np.testing.assert_allclose(kept.overall.sigma, stats.overall.sigma, atol=1e-12)
    # Another split, count or feature model is another key, hence another file.
    keys = {reference_key(data, s, n, i) for s, n, i in [("test", 300, "a"), ("train", 300, "a"), ("test", 0, "a"),
                                                          ("test", 300, "b")]}
    assert len(keys) == 4 and len({cache_path(tmp_path, k) for k in keys}) == 4


def test_balanced_labels_and_generated_statistics_of_a_known_generator():
    assert balanced_labels(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]

    class ClassGenerator(keras.layers.Layer):
        """Image = label / 10 everywhere: features equal label / 10, one point per class."""

        z_dim = 2

        def call(self, inputs, training=None):
            z, labels = inputs
            value = tf.cast(labels, tf.float32)[:, None, None, None] / 10.0 + 0.0 * z[:, :1, None, None]
            return tf.tile(value, [1, 32, 32, 1])

    stats = generated_statistics(ClassGenerator(), PoolingExtractor(), 40, num_classes=4, batch_size=16)
    assert stats.logits.shape == (40, 10) and stats.features is None
    kept = generated_statistics(ClassGenerator(), PoolingExtractor(), 40, num_classes=4, batch_size=16,
                                keep_features=True)
    np.testing.assert_allclose(kept.features, np.repeat((np.arange(40) % 4 / 10.0)[:, None], 16, axis=1), atol=1e-7)
    assert sorted(stats.classes) == [0, 1, 2, 3] and all(s.count == 10 for s in stats.classes.values())
    np.testing.assert_allclose(stats.classes[2].mu, np.full(16, 0.2), atol=1e-6)
    np.testing.assert_allclose(stats.overall.mu, np.full(16, 0.15), atol=1e-6)


def test_compute_metrics_dispatches_to_the_right_statistics():
    rng = np.random.default_rng(0)
    g = {c: GaussianStats(rng.normal(size=3), np.eye(3), 10) for c in range(2)}
    r = {c: GaussianStats(rng.normal(size=3), 2 * np.eye(3), 10) for c in range(2)}
    generated = Statistics(g[0], g, logits=np.log(np.eye(4)[np.arange(8) % 4] + 1e-12))
    real = Statistics(r[1], r)
    out = compute_metrics(["is", "fid", "intra_fid"], generated, real, is_splits=1)
    assert out["is"] == pytest.approx(4.0, rel=1e-6)
    assert out["fid"] == pytest.approx(frechet_distance(g[0], r[1]))
    assert out["intra_fid_per_class"]["1"] == pytest.approx(frechet_distance(g[1], r[1]))
    assert out["intra_fid"] == pytest.approx((frechet_distance(g[0], r[0]) + frechet_distance(g[1], r[1])) / 2)
    with pytest.raises(ValueError, match="logits"):
        compute_metrics(["is"], Statistics(g[0], g), real)


def test_compute_metrics_passes_the_feature_sets_and_options_to_each_metric():
    rng = np.random.default_rng(1)
    fake, real = rng.normal(size=(30, 4)) + 0.3, rng.normal(size=(50, 4))
    generated = Statistics(GaussianStats.from_features(fake), {}, features=fake)
    reference = Statistics(GaussianStats.from_features(real), {}, features=real)
    options = FeatureSetOptions(k_pr=2, k_dc=4, kid_subset_size=20, kid_subsets=5, seed=9)
    names = ["coverage", "kid", "fid", "precision", "recall", "density"]
    out = compute_metrics(names, generated, reference, options=options)
    assert (out["kid"], out["kid_std"]) == kid(real, fake, 20, 5, seed=9)
    assert (out["precision"], out["recall"]) == precision_recall(real, fake, k=2)
    assert (out["density"], out["coverage"]) == density_coverage(real, fake, k=4)
    assert out["fid"] == frechet_distance(generated.overall, reference.overall)
    assert set(out) == {*names, "kid_std"}
    with pytest.raises(ValueError, match="kid need the feature vectors"):
        compute_metrics(["fid", "kid"], Statistics(generated.overall, {}), reference)
    with pytest.raises(ValueError, match="unknown metric 'lpips'"):
        compute_metrics(["fid", "lpips"], generated, reference)
