"""The DCGAN-style generator goes through the same export contract: SavedModel signatures and TFLite."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.data.pixels import to_uint8
from sagan_tf.serving.export import export_run
from sagan_tf.serving.tflite import TFLiteGenerator
from tests.helpers.exports import fixed_inputs, make_run


@pytest.mark.parametrize(
    "overrides, labels",
    [
        ((), [0, 0, 0]),  # the config's unconditional model
        # conditional exports: tests/serving/test_export.py (SAGAN); this one with -m slow
        pytest.param(("data.num_classes=10", "data.label_key=label"), [3, 9, 0], marks=pytest.mark.slow),
    ],
    ids=["unconditional", "conditional"],
)
def test_dcgan_generator_exports_to_saved_model_and_tflite(tmp_path, overrides, labels):
    run = make_run(tmp_path / "run", overrides, config="dcgan_fashion_mnist32.yaml")
    assert run.cfg.model.arch == "dcgan"
    version_dir, manifest = export_run(run.logdir, tmp_path / "models", formats=("saved_model", "tflite"))
    loaded = tf.saved_model.load(str(version_dir))
    serve = loaded.signatures["serving_default"]
    tflite = TFLiteGenerator(version_dir / "tflite" / "generator_float32.tflite")
    for batch in (1, 3):
        z, y = fixed_inputs(run.cfg.model.z_dim, labels[:batch], seed=batch)
        expected = run.generator((tf.constant(z), tf.constant(y)), training=False).numpy()
        out = serve(z=tf.constant(z), labels=tf.constant(y))
        assert out["images"].shape == (batch, 32, 32, 1) and out["images"].dtype == tf.uint8
        np.testing.assert_allclose(out["images_float"].numpy(), expected, atol=1e-5)
        assert np.abs(out["images"].numpy().astype(int) - to_uint8(expected).numpy().astype(int)).max() <= 1
        # float32 TFLite with a free batch dimension: same tolerance as the resnet family.
        np.testing.assert_allclose(tflite(z, y)["images_float"], expected, atol=1e-4)
    bad = np.array([labels[0] + 10], np.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="label"):
        serve(z=tf.constant(fixed_inputs(run.cfg.model.z_dim, [0])[0]), labels=tf.constant(bad))
