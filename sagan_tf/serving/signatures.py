"""The generator's serving graph: input checks, seed -> z, signatures, SavedModel for TF Serving.

Five signatures (TF Serving's ``tensorflow/serving/predict`` method, batch size dynamic):

* ``serving_default``: ``z`` float32 [None, z_dim], ``labels`` int32 [None]
  -> ``images`` uint8 [None, R, R, C] and ``images_float`` float32 in [-1, 1] (the generator's
  tanh output, for pipelines that score or post-process without 8-bit quantization).
* ``generate``: ``seed`` int64 [None], ``labels`` int32 [None] (exactly these two inputs) -> the
  same two outputs plus the ``z`` it used. Row i's z ~ N(0, 1) is a pure function of seed[i] (a
  stateless Philox draw), so a client need not sample z and a seed always gives the same image,
  whatever else is in the batch.
* ``generate_truncated``: ``generate`` plus a ``truncation`` float32 scalar t, the truncation trick
  of BigGAN (Brock et al. 2019, section 3.1): every entry of z is drawn from N(0, 1) restricted to
  [-t, t], by inverse CDF, z = Phi^-1(Phi(-t) + u (Phi(t) - Phi(-t))) with u ~ U(0, 1) from the
  same seed; t = inf gives exactly ``generate``'s z. A separate signature rather than an optional
  input: every runtime (Python's ``loaded.signatures``, the TF1 session loader, TF Serving) calls a
  signature with all of its inputs, so ``generate`` keeps its two-input contract everywhere.
* ``explore``: ``z`` float32 [None, z_dim], ``class_weights`` float32 [None, label_count] (each row
  non-negative, summing to 1: a one-hot row is that class, (1 - t) e_a + t e_b a mixture of two
  conditional batch norm rows) -> ``images``, ``images_float`` and, for every attention layer of G,
  its map beta [None, N_query, N_key] under the layer's name (``attention_16``): the softmax rows of
  paper eq. 1. What ``sagan-explore`` draws; TF Serving clients may call it too.
* ``mix``: ``explore``'s inputs -> ``images`` and ``images_float`` only: the same images without
  returning any attention map, so that a batch of mixtures (``sagan-explore``'s interpolations)
  never holds B x N_query x N_key floats per layer, and a chunked attention layer (``query_chunk``)
  never forms its whole map.

Bad inputs fail with ``InvalidArgument`` and a message that says what is wrong: labels outside
[0, num_classes) (an unconditional model, num_classes 0, accepts only label 0), a ``labels``
batch that differs from the ``z`` / ``seed`` batch, a non-positive truncation, class weights that
are not a mixture (a negative entry, a row not summing to 1). Wrong dtypes are
rejected by the signature itself. Keras' ``Embedding`` would silently wrap label -1 to the last
class, which is why the range is checked explicitly. TFLite drops ``Assert`` ops, so the same
bad inputs are also routed into an out-of-bounds ``GATHER`` (see ``checked_labels``): the TFLite
model fails with "gather index out of bounds" instead of returning another class's image.

Spectral normalization is not folded into the kernels: the graph computes W / sigma(W) from the
stored u exactly as Keras inference does (two mat-vec products per layer, independent of the batch,
about 2 x params FLOPs per call, well under 1% of one 3x3 convolution at 32x32). The TFLite
converter constant-folds it anyway. A G trained without spectral norm (``model.g_spectral_norm:
false``) has no ``u``: its layers compute with their stored kernels as they are.

Why ``keras.export.ExportArchive`` and not a ``tf.Module`` holding the Keras model: Keras 3 does
not expose layers held in Python lists (G's blocks) to TF's object graph, so such a SavedModel
loads with ``tf.saved_model.load`` but fails in the TF1 session loader with "Could not find
variable ...", and the session loader (restore op, then ``Session::Run`` on the SignatureDef's
tensor names) is how TF Serving's SavedModelBundle runs a model. The archive saves the variables
the endpoint functions capture, each once, and passes both loaders (``tests/test_export.py`` runs
both in a fresh process).
"""

from __future__ import annotations

import math
from pathlib import Path

import tensorflow as tf

SERVING_DEFAULT = "serving_default"
GENERATE = "generate"
GENERATE_TRUNCATED = "generate_truncated"
EXPLORE = "explore"
MIX = "mix"
SIGNATURES = (SERVING_DEFAULT, GENERATE, GENERATE_TRUNCATED, EXPLORE, MIX)
NO_TRUNCATION = math.inf
WEIGHT_SUM_TOLERANCE = 1e-3  # |sum of a row of class weights - 1|


def label_count(num_classes: int) -> int:
    """Valid labels are [0, label_count): the classes, or just 0 for an unconditional model."""
    return max(int(num_classes), 1)


def to_uint8(images: tf.Tensor) -> tf.Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounded and clipped (as ``sagan_tf.data.pixels.to_uint8``)."""
    from sagan_tf.data.pixels import to_uint8 as convert

    return convert(images)


def checked_labels(labels: tf.Tensor, batch: tf.Tensor, num_classes: int) -> tf.Tensor:
    """``labels`` after checking them against the batch size and [0, label_count(num_classes)).

    TF (SavedModel, TF Serving): an ``Assert`` fails first with a readable InvalidArgument.
    TFLite (no Assert ops): a batch mismatch makes the index ``range(B) + (L - B)(L + B)`` fall
    outside [0, L), and an invalid label is replaced by ``label_count``, one past the last class
    embedding, so either fails in a GATHER instead of producing another class's image.
    """
    n = label_count(num_classes)
    size = tf.size(labels)
    flat = tf.reshape(labels, [-1])
    checks = [
        tf.debugging.assert_equal(
            size, batch, message="labels must have one entry per image (the batch size of z or seed)"
        ),
        tf.debugging.assert_non_negative(flat, message=f"labels must be in [0, {n})"),
        tf.debugging.assert_less(flat, tf.constant(n, flat.dtype), message=f"labels must be in [0, {n})"),
    ]
    with tf.control_dependencies(checks):
        index = tf.range(batch) + (size - batch) * (size + batch)
        flat = tf.gather(flat, index)
        valid = tf.logical_and(flat >= 0, flat < n)
        return tf.where(valid, flat, tf.constant(n, flat.dtype))


def checked_class_weights(weights: tf.Tensor, batch: tf.Tensor, num_classes: int) -> tf.Tensor:
    """``weights`` (B, label_count) after checking that each row is a mixture of the classes:
    one row per image, entries finite and >= 0, summing to 1 within ``WEIGHT_SUM_TOLERANCE``."""
    n = label_count(num_classes)
    checks = [
        tf.debugging.assert_equal(
            tf.shape(weights), tf.stack([batch, n]),
            message=f"class_weights must have shape [batch, {n}]: one row per image (the batch size of z)",
        ),
        tf.debugging.assert_non_negative(weights, message="class_weights must be >= 0"),
        tf.debugging.assert_less_equal(
            tf.abs(tf.reduce_sum(weights, axis=-1) - 1.0), WEIGHT_SUM_TOLERANCE,
            message="every row of class_weights must sum to 1",
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(weights)


def _normal_cdf(x: tf.Tensor) -> tf.Tensor:
    """Phi(x) = erfc(-x / sqrt(2)) / 2, exact at +-inf."""
    return 0.5 * tf.math.erfc(-x / math.sqrt(2.0))


def z_from_seeds(seeds: tf.Tensor, z_dim: int, truncation: tf.Tensor) -> tf.Tensor:
    """(B,) int64 seeds -> (B, z_dim) float32, row i ~ N(0, 1) truncated to [-t, t], from seed i only.

    Inverse-CDF sampling in float64 (u is shifted by half a step so that it is never 0 or 1).
    """
    checks = [
        tf.debugging.assert_positive(truncation, message="truncation must be > 0 (inf: no truncation)"),
    ]
    with tf.control_dependencies(checks):
        t = tf.cast(truncation, tf.float64)
    low, high = _normal_cdf(-t), _normal_cdf(t)

    def one_row(seed):
        u = tf.random.stateless_uniform([z_dim], seed=tf.stack([seed, tf.constant(0, tf.int64)]), dtype=tf.float64)
        return u + 2.0**-53

    u = tf.map_fn(one_row, seeds, fn_output_signature=tf.TensorSpec([z_dim], tf.float64))
    u = tf.reshape(u, [-1, z_dim])
    return tf.cast(tf.math.ndtri(low + u * (high - low)), tf.float32)


class ServingGraph:
    """The endpoint functions of one generator (``g((z, labels), training=False)``)."""

    def __init__(self, generator, num_classes: int, z_dim: int):
        self.generator = generator
        self.num_classes = int(num_classes)
        self.z_dim = int(z_dim)

    def checked_z(self, z: tf.Tensor) -> tf.Tensor:
        # The signature declares [None, z_dim]; this check makes a mismatch a clear error wherever the
        # runtime does not enforce that shape (the Python signature call does not).
        check = tf.debugging.assert_equal(
            tf.size(z), tf.shape(z)[0] * self.z_dim, message=f"z must have shape [batch, {self.z_dim}]"
        )
        with tf.control_dependencies([check]):
            return tf.identity(z)

    def images(self, z: tf.Tensor, labels: tf.Tensor) -> dict[str, tf.Tensor]:
        z = self.checked_z(z)
        labels = checked_labels(labels, tf.shape(z)[0], self.num_classes)
        images = self.generator((z, labels), training=False)
        return {"images": to_uint8(images), "images_float": tf.cast(images, tf.float32)}

    def serving_default(self, z, labels):
        return self.images(z, labels)

    def generate(self, seed, labels):
        return self.generate_truncated(seed, labels, tf.constant(NO_TRUNCATION, tf.float32))

    def generate_truncated(self, seed, labels, truncation):
        z = z_from_seeds(seed, self.z_dim, truncation)
        return {**self.images(z, labels), "z": z}

    def explore(self, z, class_weights):
        """Images of a class mixture and every attention layer's beta (eq. 1) under its name."""
        z = self.checked_z(z)
        weights = checked_class_weights(class_weights, tf.shape(z)[0], self.num_classes)
        images, maps = self.generator((z, weights), training=False, return_attention=True)
        return {"images": to_uint8(images), "images_float": tf.cast(images, tf.float32), **maps}

    def mix(self, z, class_weights):
        """``explore``'s images alone: no attention map is returned (nor formed by a chunked layer)."""
        z = self.checked_z(z)
        weights = checked_class_weights(class_weights, tf.shape(z)[0], self.num_classes)
        images = self.generator((z, weights), training=False)
        return {"images": to_uint8(images), "images_float": tf.cast(images, tf.float32)}

    def input_signatures(self) -> dict[str, list[tf.TensorSpec]]:
        return {
            SERVING_DEFAULT: [
                tf.TensorSpec([None, self.z_dim], tf.float32, name="z"),
                tf.TensorSpec([None], tf.int32, name="labels"),
            ],
            GENERATE: [
                tf.TensorSpec([None], tf.int64, name="seed"),
                tf.TensorSpec([None], tf.int32, name="labels"),
            ],
            GENERATE_TRUNCATED: [
                tf.TensorSpec([None], tf.int64, name="seed"),
                tf.TensorSpec([None], tf.int32, name="labels"),
                tf.TensorSpec([], tf.float32, name="truncation"),
            ],
            EXPLORE: self.mixture_signature(),
            MIX: self.mixture_signature(),
        }

    def mixture_signature(self) -> list[tf.TensorSpec]:
        return [
            tf.TensorSpec([None, self.z_dim], tf.float32, name="z"),
            tf.TensorSpec([None, label_count(self.num_classes)], tf.float32, name="class_weights"),
        ]


def write_saved_model(generator, num_classes: int, z_dim: int, path: str | Path) -> None:
    """Writes the SavedModel with every signature of ``SIGNATURES`` to ``path`` (a new directory)."""
    import keras

    graph = ServingGraph(generator, num_classes, z_dim)
    archive = keras.export.ExportArchive()
    # No archive.track(generator): the endpoints capture their variables, which are then saved once
    # (tracking the Keras model as well would save every weight a second time).
    signatures = graph.input_signatures()
    archive.add_endpoint(SERVING_DEFAULT, graph.serving_default, input_signature=signatures[SERVING_DEFAULT])
    archive.add_endpoint(GENERATE, graph.generate, input_signature=signatures[GENERATE])
    archive.add_endpoint(GENERATE_TRUNCATED, graph.generate_truncated, input_signature=signatures[GENERATE_TRUNCATED])
    archive.add_endpoint(EXPLORE, graph.explore, input_signature=signatures[EXPLORE])
    archive.add_endpoint(MIX, graph.mix, input_signature=signatures[MIX])
    archive.write_out(str(path), verbose=False)
