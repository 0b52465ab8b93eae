"""Pluggable feature models for domain FID / IS, and the factory that picks the extractor.

Inception-v3 is a poor judge of 28x28 grayscale clothing; a classifier trained on the domain
(``sagan-train-feature-model``) measures what matters there. Any Keras model
file works (``--feature-model PATH``):

* input: images in [-1, 1], (B, H, W, C); generated images are resized (bilinear) and converted
  between 1 and 3 channels when the model expects another shape;
* features: the output of the layer named ``features`` if the model has one, else the output;
* logits (for IS): the model's output when it has a ``features`` layer, else there are none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.metrics.inception import InceptionExtractor, file_digest
from sagan_tf.evaluation.metrics.resize import TF

FEATURE_LAYER = "features"


class KerasFeatureExtractor:
    """``extractor(images) -> (features (B, d), logits (B, k) or None)`` from a saved Keras model."""

    def __init__(self, path: str):
        import keras

        from sagan_tf.pretrained import resolve_feature_model

        path = resolve_feature_model(str(path))  # pretrained:NAME: a shipped classifier
        if not Path(path).is_file():
            raise SaganError(f"feature model not found: {path}")
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as e:
            raise SaganError(f"cannot load feature model {path}: {str(e).splitlines()[0][:200]}") from None
        names = [layer.name for layer in model.layers]
        self.has_logits = FEATURE_LAYER in names
        outputs = [model.get_layer(FEATURE_LAYER).output, model.output] if self.has_logits else [model.output]
        self._model = keras.Model(model.inputs, outputs)
        shape = model.inputs[0].shape
        self._size = (shape[1], shape[2]) if shape[1] is not None else None
        self._channels = shape[-1]
        self.file, self.sha256 = Path(path).name, file_digest(path, 64)
        self.identity = f"{Path(path).stem}-{self.sha256[:16]}"
        self.dim = int(np.prod(outputs[0].shape[1:])) if None not in outputs[0].shape[1:] else None
        self._run = tf.function(self._forward, reduce_retracing=True)

    def describe(self, image_size: tuple[int, int] | None = None) -> dict:
        """The model file's name and SHA-256, the feature dimension and how images of ``image_size``
        (height, width) are resized, for a result's ``protocol``."""
        resize = "none"
        if self._size is not None and (image_size is None or tuple(image_size) != tuple(self._size)):
            resize = f"bilinear to {self._size[0]}x{self._size[1]}, tf.image.resize (no antialiasing)"
        return {"name": self.file, "weights": "file", "sha256": self.sha256, "dim": self.dim, "resize": resize}

    def _adapt(self, images):
        if self._channels == 3 and images.shape[-1] == 1:
            images = tf.repeat(images, 3, axis=-1)
        elif self._channels == 1 and images.shape[-1] == 3:
            images = tf.reduce_mean(images, axis=-1, keepdims=True)
        if self._size is not None and tuple(images.shape[1:3]) != tuple(self._size):
            images = tf.image.resize(images, self._size, method="bilinear")
        return images

    def _forward(self, images):
        out = self._model(self._adapt(images), training=False)
        return out if isinstance(out, (list, tuple)) else [out]

    def __call__(self, images) -> tuple[np.ndarray, np.ndarray | None]:
        out = self._run(tf.convert_to_tensor(images, tf.float32))
        features = tf.reshape(out[0], [tf.shape(out[0])[0], -1]).numpy()
        return features, (out[1].numpy() if self.has_logits else None)


def load_extractor(
    feature_model: str | None = None,
    inception_weights: str | None = None,
    inception_graph: str | None = None,
    graph_sha256: str | None = None,
    resize: str = TF,
):
    """The domain feature model at ``feature_model`` if given, else the 2015 Inception graph at
    ``inception_graph`` (checked against ``graph_sha256`` when given; not with either of the
    others), else Keras' Inception-v3 (``inception_weights``: its weights file);
    ``resize`` (``tf`` or ``clean``) is how images reach Inception's 299x299."""
    if inception_graph and (feature_model or inception_weights):
        other = "--feature-model" if feature_model else "--inception-weights"
        raise SaganError(f"--inception-graph and {other} name different feature networks: give one")
    if graph_sha256 and not inception_graph:
        raise SaganError("--inception-graph-sha256 checks the file of --inception-graph, which is not given")
    if feature_model:
        if resize != TF:
            raise SaganError(f"--resize {resize} is for Inception's 299x299 input; a feature model takes the images "
                             "as its own input layer says")
        return KerasFeatureExtractor(feature_model)
    if inception_graph:
        from sagan_tf.evaluation.metrics.inception_graph import InceptionGraphExtractor

        return InceptionGraphExtractor(inception_graph, graph_sha256, resize)
    return InceptionExtractor(inception_weights, resize)
