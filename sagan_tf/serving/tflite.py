"""TFLite models of the generator, converted from a SavedModel of it, run with LiteRT.

The TFLite models are converted from their own SavedModel (``write_conversion_source``), traced on a
copy of G that runs every op in its reference form (``ops="reference"``, ``models.base.with_ops``):
G's upsampling as a nearest-neighbour resize and then the 3x3 convolution, which convert to the
builtins RESIZE_NEAREST_NEIGHBOR and CONV_2D. The fast form (one stride-2 transposed convolution,
``ops.upsample_conv``) would convert to TRANSPOSE_CONV, which LiteRT's XNNPACK delegate does not take
in dynamic range (``docs/performance.md`` has the generator throughput of both).

The TFLite models carry the ``serving_default`` signature of the SavedModel (``z``, ``labels`` ->
``images`` uint8, ``images_float``); ``generate`` is not converted (its stateless random ops are
not TFLite builtins: a device samples z itself). Variants:

* ``float32``: the same arithmetic as TensorFlow up to summation order (XNNPACK kernels).
* ``float16``: weights stored as float16 (half the size) and dequantized to float32 when the
  model is loaded, so the only error is the rounding of every weight to 11 significant bits.
* ``dynamic_range``: weights stored as int8 (about a quarter of the size), activations quantized
  to int8 on the fly by the hybrid kernels; the fastest on ARM CPUs and the least exact.

``MAX_ABS_ERROR`` and ``MEAN_ABS_ERROR`` bound |TFLite - Keras| on ``images_float`` (range
[-1, 1]; one uint8 grey level is 2/255 = 0.0078) over the fixed check batch of ``sagan_tf.serving.export``;
an export whose TFLite model exceeds either is refused. They separate "converted" from "broken"
(wrong weights, a dropped layer, another class's embedding all err by O(0.1-1) on average). Measured
on a Fashion-MNIST run (ch=16, 400 steps, 64 images): float32 max 5e-6; float16 max 1e-2, mean
2.5e-4; dynamic_range max 0.16, mean 3.9e-3. Where the bounds come from:

* float32: float32 rounding (6e-8 per operation) over ~10 layers of sums of up to 3*3*C_in
  products, summed in another order by XNNPACK than by TF's oneDNN kernels.
* float16: every weight rounded to 11 significant bits (relative error <= 2^-11 = 4.9e-4) and
  dequantized to float32 at load time; inference batch norm does not renormalize, so the error
  of ~10 layers in series adds up in the pre-tanh activation; the worst pixel of many reaches 1e-2.
* dynamic_range: int8 weights (relative error <= 1/254 per output channel) and activations
  quantized to int8 on the fly in every layer (error <= 1/254 of the tensor's largest magnitude):
  the mean stays within half a grey level, single pixels can be off by 20 levels. Compare the
  grids before shipping this variant.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

VARIANTS = ("float32", "float16", "dynamic_range")
MAX_ABS_ERROR = {"float32": 1e-4, "float16": 5e-2, "dynamic_range": 0.5}
MEAN_ABS_ERROR = {"float32": 1e-5, "float16": 2e-3, "dynamic_range": 2e-2}


def filename(variant: str) -> str:
    return f"generator_{variant}.tflite"


def convert(saved_model_dir: str | Path, variant: str, signature: str = "serving_default") -> bytes:
    """TFLite flatbuffer of one SavedModel signature; builtin ops only (no Flex)."""
    import tensorflow as tf

    if variant not in VARIANTS:
        raise ValueError(f"unknown TFLite variant {variant!r} (known: {', '.join(VARIANTS)})")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[signature])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant in ("float16", "dynamic_range"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


CONVERSION_OPS = "reference"  # the forms of sagan_tf.ops whose TensorFlow ops convert to TFLite builtins


def write_conversion_source(generator, num_classes: int, z_dim: int, path: str | Path) -> None:
    """The SavedModel ``convert`` reads: ``serving.write_saved_model`` of a copy of ``generator`` that
    runs the ``CONVERSION_OPS`` forms (the same function; see the module docstring)."""
    from sagan_tf.serving.signatures import write_saved_model

    write_saved_model(generator.with_ops(CONVERSION_OPS), num_classes, z_dim, path)


class TFLiteGenerator:
    """A converted generator in the LiteRT interpreter: ``gen(z, labels) -> {"images", "images_float"}``.

    The batch size is free: the signature runner resizes the inputs to each call's batch.
    """

    def __init__(self, model: str | Path | bytes, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        threads = num_threads or os.cpu_count() or 1
        if isinstance(model, bytes):
            self.interpreter = Interpreter(model_content=model, num_threads=threads)
        else:
            self.interpreter = Interpreter(model_path=str(model), num_threads=threads)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        z_detail = self.runner.get_input_details()["z"]
        self.z_dim = int(z_detail["shape_signature"][-1])

    def __call__(self, z, labels) -> dict[str, np.ndarray]:
        z = np.ascontiguousarray(z, dtype=np.float32)
        labels = np.ascontiguousarray(labels, dtype=np.int32)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (batch, {self.z_dim}), got {z.shape}")
        if labels.shape != (z.shape[0],):
            raise ValueError(f"labels must have shape ({z.shape[0]},) to match z, got {labels.shape}")
        return self.runner(z=z, labels=labels)
