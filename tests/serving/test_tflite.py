"""TFLite models of the conditional_export generator, run with the LiteRT interpreter, against Keras.

Accepted |TFLite - Keras| on ``images_float`` (range [-1, 1]; one grey level = 0.0078), max / mean:

* float32 1e-5 / -: the same float32 arithmetic, summed in another order by the XNNPACK kernels
  (float32 rounding ~6e-8 per operation over ~10 layers of sums of up to 3*3*16 products).
* float16 2e-2 / 1e-3: each weight rounded to float16 (relative error <= 2^-11 = 4.9e-4) and
  dequantized to float32 at load time; through G's ~10 layers in series this reaches ~1e-2 at the
  worst of many pixels (measured on a trained ch=16 run), ~3e-4 on average.
* dynamic range 0.25 / 1e-2: int8 weights (per channel, relative error <= 1/254) and int8
  activations quantized on the fly in every layer: measured max 0.16, mean 4e-3 on the trained run.
A broken conversion (wrong weights, a dropped layer, another class's embedding) errs by O(0.1-1).
"""

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from sagan_tf.data.pixels import to_uint8
from sagan_tf.serving.tflite import TFLiteGenerator
from tests.helpers.exports import fixed_inputs

MAX_ERROR = {"float32": 1e-5, "float16": 2e-2, "dynamic_range": 0.25}
MEAN_ERROR = {"float32": 1e-6, "float16": 1e-3, "dynamic_range": 1e-2}


def tflite_path(conditional_export, variant):
    return conditional_export.version_dir / "tflite" / f"generator_{variant}.tflite"


def keras_images(generator, z, labels):
    return generator((tf.constant(z), tf.constant(labels)), training=False).numpy()


@pytest.mark.parametrize("variant", ["float32", "float16", "dynamic_range"])
@pytest.mark.parametrize("labels", [[7], list(range(10)) + [3, 3, 0, 9, 1, 2, 5]])
def test_tflite_matches_keras_at_any_batch_size(conditional_export, variant, labels):
    z, labels = fixed_inputs(128, labels, seed=len(labels))
    expected = keras_images(conditional_export.run.generator, z, labels)
    out = TFLiteGenerator(tflite_path(conditional_export, variant))(z, labels)
    error = np.abs(out["images_float"] - expected)
    assert out["images_float"].shape == expected.shape and out["images"].shape == expected.shape
    assert error.max() <= MAX_ERROR[variant] and error.mean() <= MEAN_ERROR[variant], (error.max(), error.mean())
    np.testing.assert_array_equal(out["images"], to_uint8(out["images_float"]).numpy())
    # The bounds can fail: another class's image is much further away.
    other = keras_images(conditional_export.run.generator, z, (labels + 1) % 10)
    assert np.abs(out["images_float"] - other).mean() > 3 * MEAN_ERROR["dynamic_range"]


def test_smaller_variants_are_smaller(conditional_export):
    sizes = {v: tflite_path(conditional_export, v).stat().st_size for v in ("float32", "float16", "dynamic_range")}
    assert sizes["float16"] < 0.65 * sizes["float32"]
    assert sizes["dynamic_range"] < 0.5 * sizes["float32"]
    files = conditional_export.manifest["files"]
    assert {v: files[f"tflite_{v}"]["bytes"] for v in sizes} == sizes


def test_tflite_has_the_serving_signature_and_only_builtin_ops(conditional_export):
    interpreter = Interpreter(model_path=str(tflite_path(conditional_export, "float32")))
    assert interpreter.get_signature_list() == {
        "serving_default": {"inputs": ["labels", "z"], "outputs": ["images", "images_float"]}
    }
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert {"CONV_2D", "RESIZE_NEAREST_NEIGHBOR", "SOFTMAX", "TANH", "GATHER"} <= ops
    assert not {op for op in ops if op.startswith("Flex") or op == "CUSTOM"}
    # G's upsampling as resize + CONV_2D (XNNPACK), not the folded TRANSPOSE_CONV the SavedModel runs.
    assert "TRANSPOSE_CONV" not in ops
    # Spectral norm (norms, sqrt, division by sigma) and inference batch norm were folded into constants.
    assert not ops & {"SQRT", "RSQRT", "DIV", "L2_NORMALIZATION", "SUM"}


@pytest.mark.parametrize(
    "z_rows, labels",
    [(2, [0, 10]), (2, [-1, 3]), (3, [0, 1]), (2, [0, 1, 2])],
    ids=["label-too-large", "negative-label", "fewer-labels", "more-labels"],
)
def test_bad_labels_fail_in_tflite_instead_of_returning_images(conditional_export, z_rows, labels):
    """TFLite has no Assert op: the model routes bad labels into an out-of-bounds GATHER."""
    interpreter = Interpreter(model_path=str(tflite_path(conditional_export, "float32")))
    runner = interpreter.get_signature_runner("serving_default")
    z = np.zeros((z_rows, 128), np.float32)
    with pytest.raises(RuntimeError, match="gather index out of bounds"):
        runner(z=z, labels=np.array(labels, np.int32))


def test_python_wrapper_checks_shapes_before_invoking(conditional_export):
    generator = TFLiteGenerator(tflite_path(conditional_export, "float16"), num_threads=1)
    assert generator.z_dim == 128
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 128\)"):
        generator(np.zeros((2, 100)), [0, 1])
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        generator(np.zeros((2, 128)), [[0], [1]])
