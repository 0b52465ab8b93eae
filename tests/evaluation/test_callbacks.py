"""The in-training metrics (``FIDMonitor``): what it writes to TensorBoard for the shipped generator,
in a domain classifier's feature space, against numpy computations of FID, IS, KID and the k-NN
metrics on the same images."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config, pretrained
from sagan_tf.config import FID_METRICS
from sagan_tf.errors import ConfigError, SaganError
from sagan_tf.evaluation.callbacks import FIDMonitor
from sagan_tf.evaluation.metrics.feature_model import KerasFeatureExtractor
from sagan_tf.evaluation.metrics.statistics import reference_statistics
from sagan_tf.runs.run_dir import load_generator
from tests.evaluation import independent
from tests.helpers.cli import read_events


class TrainingModel:
    """What the callback reads of the GAN being trained: its step and its sampling generator."""

    def __init__(self, generator, step: int):
        self.sampling_generator, self.step = generator, tf.Variable(step, dtype=tf.int64)


def test_fid_monitor_logs_every_metric_of_log_fid_metrics(feature_model, tfds_dir, tmp_path):
    generator, cfg = load_generator(pretrained.directory("fashion_mnist32"))
    extractor = KerasFeatureExtractor(feature_model)

    def reference():  # FID against 300 test images; the feature-set metrics against the first 100
        return reference_statistics(cfg.data, extractor, "test", 300, False, 50, tfds_dir, tmp_path / "stats",
                                    keep_features=100)

    writer = tf.summary.create_file_writer(str(tmp_path / "train"))
    monitor = FIDMonitor(writer, 5, 100, extractor, reference, 10, None, batch_size=50, is_splits=10,
                         metrics=FID_METRICS)
    monitor.set_model(TrainingModel(generator, 10))
    monitor.on_train_begin()
    assert monitor.reference.features.shape == (100, 128) and monitor.reference.overall.count == 300
    monitor.on_train_batch_end(0)
    monitor.model.step.assign(11)
    monitor.on_train_batch_end(1)  # not a multiple of 5: nothing
    scalars, _ = read_events(tmp_path / "train")
    assert sorted(scalars) == sorted(FID_METRICS) and all(list(v) == [10] for v in scalars.values())

    features = independent.classifier_features(feature_model)
    fake, logits = features(independent.generated_images(independent.keras_generate(generator), generator.z_dim, 100, 50))
    real_all, _ = features(independent.fashion_mnist_test_images(tfds_dir, 300))
    real = real_all[:100]
    logged = {name: values[10] for name, values in scalars.items()}
    assert logged["fid"] == pytest.approx(independent.numpy_fid(fake, real_all), rel=1e-3)
    assert logged["is"] == pytest.approx(independent.numpy_is(logits, 10), rel=1e-4)
    assert logged["kid"] == pytest.approx(independent.numpy_mmd2(real, fake), rel=1e-3)
    independent.assert_manifold_metrics(logged, real, fake, 3, 5)
    assert 0.3 < logged["precision"] < 1 and 0.3 < logged["recall"] < 1 and logged["coverage"] > 0.2
    (step, values), = monitor.history
    assert step == 10 and {name: pytest.approx(values[name], rel=1e-6) for name in FID_METRICS} == logged


def test_too_few_real_images_for_the_knn_metrics_is_one_error(feature_model, tfds_dir, tmp_path):
    cfg = config.load(pretrained.directory("fashion_mnist32") / "config.yaml")
    extractor = KerasFeatureExtractor(feature_model)
    monitor = FIDMonitor(None, 5, 20, extractor, lambda: reference_statistics(
        cfg.data, extractor, "test", 5, False, 50, tfds_dir, tmp_path / "stats", keep_features=20), 10,
        metrics=["fid", "coverage"])
    with pytest.raises(SaganError, match="need at least 6 real images, the reference split has 5"):
        monitor.on_train_begin()
    assert np.isfinite(monitor.reference.overall.mu).all()


@pytest.mark.parametrize("overrides,message", [
    (["log.fid_metrics=[kid]"], "must list fid"),
    (["log.fid_metrics=[fid,lpips]"], "must list fid and any of is, kid, precision"),
    (["log.fid_metrics=[fid,coverage]", "log.fid_samples=5"], "'log.fid_samples' must be >= 6"),
])
def test_the_config_names_only_metrics_the_monitor_can_log(overrides, message):
    assert config.load("fashion_mnist32").log.fid_metrics == list(FID_METRICS)
    assert config.load("fashion_mnist32", ["log.fid_metrics=[fid,is]", "log.fid_samples=5"]).log.fid_samples == 5
    with pytest.raises(ConfigError, match=message):
        config.load("fashion_mnist32", overrides)
