"""Test setup and the fixtures shared across test directories.

Two logical CPU devices (MirroredStrategy tests run on them), quiet TensorFlow, the Fashion-MNIST
sample as a TFDS directory, and session-wide artefacts that several test modules read: a tiny
domain classifier, a tiny trained run, tiny exports and the ``sagan-explore`` app serving one.
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Folder surveys (sagan_tf.data.survey_cache) of this run, subprocesses included, under a temporary directory.
os.environ["SAGAN_TF_CACHE"] = tempfile.mkdtemp(prefix="sagan_tf_cache_")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.helpers import REPO, fashion_mnist  # noqa: E402
from tests.helpers.cli import TINY_RUN_STEPS  # noqa: E402
from tests.helpers.explore import OVERRIDES as EXPLORE_OVERRIDES  # noqa: E402
from tests.helpers.explore import Reference, serving  # noqa: E402
from tests.helpers.exports import export_tiny_run  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory) -> str:
    """A TFDS data directory holding ``fashion_mnist`` prepared from the repository's sample
    (``tests/helpers/fashion_mnist.py``): 1,000 training and 500 test images."""
    return str(fashion_mnist.prepare(tmp_path_factory.mktemp("tfds") / "tensorflow_datasets"))


@pytest.fixture
def two_cpus():
    """The two logical CPU devices this test session created (build strategies with ``mirrored``)."""
    return ["/cpu:0", "/cpu:1"]


@pytest.fixture(scope="session")
def mirrored():
    """One MirroredStrategy over the two logical CPUs, shared by every test of the session.

    A second MirroredStrategy in the same process reuses collective instance keys and fails with
    "Shape mismatch in the collective instance" (tensorflow/tensorflow#62790), so tests share one.
    """
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


@pytest.fixture(scope="session")
def feature_model(tmp_path_factory, tfds_dir) -> str:
    """A tiny Fashion-MNIST classifier (``evaluation.feature_classifier.train_feature_model``)."""
    from sagan_tf.evaluation.feature_classifier import train_feature_model

    path = tmp_path_factory.mktemp("feature") / "fmnist.keras"
    train_feature_model(REPO / "configs/fashion_mnist32.yaml", path, overrides=["data.shuffle_buffer=64"], data_dir=tfds_dir,
                        epochs=1, steps_per_epoch=4, batch_size=32, eval_images=100)
    return str(path)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tfds_dir, feature_model):
    """(logdir, stats cache dir) of a ``TINY_RUN_STEPS``-step run (``Trainer``, in-process) with EMA,
    in-training FID every 3 steps (the feature model), samples and attention pictures."""
    from sagan_tf.trainer import Trainer

    root = tmp_path_factory.mktemp("evalrun")
    logdir, cache = root / "run", root / "stats"
    overrides = [
        "model.ch=4", "model.z_dim=16", "train.precision=float32", "train.batch_size=8", "train.ema_start=2", "train.ema_decay=0.5",
        "log.scalars_every=3", "log.samples_every=3", "log.checkpoint_every=3", "log.attention_every=3",
        "log.fid_every=3", "log.fid_samples=100", f"eval.feature_model={feature_model}", "eval.num_real=200",
        "eval.split=test", f"eval.stats_cache={cache}", "eval.batch_size=50", "data.shuffle_buffer=64"]
    trainer = Trainer(REPO / "configs/fashion_mnist32.yaml", logdir, overrides=overrides, data_dir=tfds_dir, verbose=0)
    trainer.train(TINY_RUN_STEPS)
    return logdir, cache


@pytest.fixture(scope="session")
def conditional_export(tmp_path_factory):
    """A tiny class-conditional run exported as SavedModel and both TFLite variants (``helpers.exports``)."""
    return export_tiny_run(tmp_path_factory.mktemp("export-conditional"))


@pytest.fixture(scope="session")
def explore_export(tmp_path_factory):
    """The export ``sagan-explore`` is tested on: two attention layers in G, SavedModel only."""
    return export_tiny_run(tmp_path_factory.mktemp("export-explore"), EXPLORE_OVERRIDES, formats=("saved_model",))


@pytest.fixture(scope="session")
def explore_generator(explore_export):
    """``serving.generators.load_export`` of ``explore_export``, loaded once."""
    from sagan_tf.serving.generators import load_export

    return load_export(explore_export.version_dir.parent)


@pytest.fixture(scope="session")
def explore_reference(explore_export):
    """The explore export's signatures, called directly (``helpers.explore.Reference``)."""
    return Reference(explore_export.version_dir)


@pytest.fixture(scope="session")
def explore_app_url(explore_generator):
    """The URL of the app serving ``explore_export`` in a thread of the test process."""
    with serving(explore_generator) as url:
        yield url
