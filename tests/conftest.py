"""Test setup: two logical CPU devices (for MirroredStrategy tests), quiet TF, shared data paths."""

import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SAGAN_SHARED_DATA", REPO.parent / "shared" / "data"))
TFDS_DIR = SHARED_DATA / "tensorflow_datasets"


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory) -> str:
    """A private copy of the prepared Fashion-MNIST TFDS directory (the shared one is read-only)."""
    if not (TFDS_DIR / "fashion_mnist").is_dir():
        pytest.fail(f"prepared Fashion-MNIST not found under {TFDS_DIR}; set SAGAN_SHARED_DATA")
    target = tmp_path_factory.mktemp("tfds") / "tensorflow_datasets"
    shutil.copytree(TFDS_DIR, target)
    return str(target)


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
