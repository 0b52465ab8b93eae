"""A run with ``model.g_spectral_norm: false`` trains, checkpoints, resumes only as itself, and exports.

The exported SavedModel (ResNet and DCGAN generators) and float32 TFLite file (DCGAN) are compared
with a float64 numpy composition of the checkpoint's stored kernels (``tests.helpers.numpy_networks``):
an unnormalized layer exports its kernel as it is. Tolerances: 1e-4 (SavedModel) and 2e-4 (TFLite)
on tanh outputs, float32 vs float64 through a few layers.
"""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.runs.checkpointing import read_variables
from sagan_tf.runs.run_dir import latest_checkpoint, load_generator
from sagan_tf.serving.export import export_run
from sagan_tf.serving.tflite import TFLiteGenerator
from tests.helpers import numpy_networks
from tests.helpers.cli import TINY, read_events, run_cli
from tests.helpers.exports import fixed_inputs, make_run
from tests.helpers.numpy_networks import np_resnet_generator

OFF = "model.g_spectral_norm=false"


@pytest.fixture(scope="module")
def trained_without_sn(tmp_path_factory, tfds_dir):
    logdir = tmp_path_factory.mktemp("runs") / "sn_d"
    result = run_cli(
        "sagan_tf.train", "--config", "configs/fashion_mnist32.yaml", "--logdir", str(logdir),
        "--steps", "20", "--set", *TINY, OFF, "train.d_lr=1e-4", "--verbose", "0", tfds_dir=tfds_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return logdir


def test_training_without_sn_in_g_checkpoints_plain_g_and_normalized_d(trained_without_sn):
    checkpoint = latest_checkpoint(trained_without_sn)
    assert checkpoint.endswith("ckpt-20")
    g, d = read_variables(checkpoint, "generator"), read_variables(checkpoint, "discriminator")
    assert g and not any("sn_u" in k or "sn_" in k for k in g)
    assert "plain_output_conv/output_conv/kernel" in g
    d_weights = [k for k in d if k.endswith(("/kernel", "/embeddings"))]
    assert d_weights
    for key in d_weights:  # D keeps spectral norm: every weight sits in an sn_ wrapper with its u
        wrapper = key.rsplit("/", 2)[0]
        assert wrapper.split("/")[-1].startswith("sn_") and f"{wrapper}/sn_u" in d, key
    scalars, _ = read_events(trained_without_sn / "train")
    losses = [scalars[tag][step] for tag in ("d_loss", "g_loss") for step in scalars[tag]]
    assert losses and np.all(np.isfinite(losses))
    # The restored G is the checkpoint's: its kernels are the stored ones.
    generator, _ = load_generator(trained_without_sn, ema=False)
    np.testing.assert_array_equal(generator.output_conv.layer.kernel.numpy(), g["plain_output_conv/output_conv/kernel"])


def test_resuming_with_sn_in_g_is_an_error(trained_without_sn, tfds_dir):
    result = run_cli(
        "sagan_tf.train", "--config", "configs/fashion_mnist32.yaml", "--logdir", str(trained_without_sn),
        "--steps", "30", "--set", *TINY, "--verbose", "0", tfds_dir=tfds_dir,
    )
    assert result.returncode == 2
    assert "model.g_spectral_norm: False -> True" in result.stderr.strip().splitlines()[-1]


def test_trained_run_without_sn_exports_its_kernels(trained_without_sn, tmp_path):
    version_dir, manifest = export_run(trained_without_sn, tmp_path / "models", formats=("saved_model",))
    generator, _ = load_generator(trained_without_sn)
    assert manifest["model"]["z_dim"] == 16
    z, y = fixed_inputs(16, [0, 3, 9, 9])
    expected = np_resnet_generator(generator, z, y)
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    np.testing.assert_allclose(served(z=tf.constant(z), labels=tf.constant(y))["images_float"].numpy(), expected, atol=1e-4)


def test_dcgan_generator_without_sn_exports_its_kernels(tmp_path):
    overrides = (OFF, "data.num_classes=10", "data.label_key=label")
    run = make_run(tmp_path / "run", overrides, config="dcgan_fashion_mnist32.yaml")
    assert not any("sn_u" in v.path for v in run.generator.variables)
    version_dir, _ = export_run(run.logdir, tmp_path / "models", formats=("saved_model", "tflite"))
    z, y = fixed_inputs(run.cfg.model.z_dim, [1, 5, 8])
    expected, _ = numpy_networks.generator(run.generator, z, y)
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    np.testing.assert_allclose(served(z=tf.constant(z), labels=tf.constant(y))["images_float"].numpy(), expected, atol=1e-4)
    tflite = TFLiteGenerator(version_dir / "tflite" / "generator_float32.tflite")
    np.testing.assert_allclose(tflite(z, y)["images_float"], expected, atol=2e-4)
    # Each weight is stored once and there is no u: exactly G's variables.
    reader = tf.train.load_checkpoint(str(version_dir / "variables" / "variables"))
    stored = sum(int(np.prod(shape)) for name, shape in reader.get_variable_to_shape_map().items()
                 if name != "_CHECKPOINTABLE_OBJECT_GRAPH")
    assert stored == sum(int(np.prod(v.shape)) for v in run.generator.variables)
