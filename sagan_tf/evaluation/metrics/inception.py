"""Inception-v3 features for FID (pool3, 2048-d) and logits for the Inception Score.

The network is ``keras.applications.InceptionV3``. Images are prepared as TF-GAN's
``tfgan.eval.preprocess_image`` does for its Inception graph: values in [0, 255], bilinear resize to
299x299 (``tf.compat.v1.image.resize_bilinear``, no antialiasing), then ``(x - 128) / 128`` to
[-1, 1]. Grayscale images are repeated to three channels.

With ``resize="clean"`` images are resized as clean-fid does instead (``resize.clean_resize``,
Parmar et al. 2022) and then mapped by ``(x - 128) / 128``.

Weights: ``weights=None`` uses Keras' ImageNet weights (downloaded once into ``~/.keras/models``),
a path loads a weights file (``--inception-weights`` on machines without network), ``"random"``
keeps the random initialisation (tests, smoke runs). Keras' ImageNet weights are not the 2015
graph (1008 classes) that the original IS/FID code used, so absolute numbers are comparable
between runs of this code but not to published tables; ``inception_graph`` loads that graph.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.metrics.resize import CLEAN, CLEAN_DESCRIPTION, INCEPTION_SIZE, TF, check_mode, clean_resize

RANDOM = "random"
NETWORK = "keras-inception-v3"
RESIZE = "bilinear to 299x299, tf.compat.v1.image.resize_bilinear (align_corners=False, no antialiasing)"


def preprocess_for_inception(images: tf.Tensor) -> tf.Tensor:
    """Generator output in [-1, 1] (B, H, W, 1|3) -> Inception input (B, 299, 299, 3) in [-1, 1]."""
    images = tf.cast(images, tf.float32)
    if images.shape[-1] == 1:
        images = tf.repeat(images, 3, axis=-1)
    pixels = (images + 1.0) * 127.5  # [0, 255], as TF-GAN's preprocess_image expects
    resized = tf.compat.v1.image.resize_bilinear(pixels, [INCEPTION_SIZE, INCEPTION_SIZE], align_corners=False)
    return (resized - 128.0) / 128.0


def file_digest(path: str | Path, length: int = 16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


class InceptionExtractor:
    """``extractor(images) -> (pool3 features (B, 2048), logits (B, 1000))`` as numpy arrays."""

    has_logits = True

    def __init__(self, weights: str | None = None, resize: str = TF):
        import keras

        self.resize = check_mode(resize)
        if weights not in (None, RANDOM) and not Path(weights).is_file():
            raise SaganError(f"Inception weights file not found: {weights}")
        try:
            net = keras.applications.InceptionV3(
                include_top=True, weights=None if weights == RANDOM else (weights or "imagenet")
            )
        except Exception as e:  # download failure, wrong file
            where = f"from {weights}" if weights else "(download of Keras' ImageNet weights)"
            raise SaganError(
                f"cannot load Inception-v3 weights {where}: {str(e).splitlines()[0][:200]}; "
                "pass --inception-weights PATH (Keras' inception_v3 .h5 file)"
            ) from None
        pool = net.get_layer("avg_pool").output
        dense = net.get_layer("predictions")
        self.network = net  # the full classifier (softmax output)
        self._model = keras.Model(net.inputs, pool)
        self._kernel, self._bias = dense.kernel, dense.bias
        self.weights = {None: "imagenet", RANDOM: RANDOM}.get(weights, "file")
        self.sha256 = file_digest(weights, 64) if self.weights == "file" else None
        suffix = "" if self.resize == TF else f"-{self.resize}"
        self.identity = f"inception_v3-{self.sha256[:16] if self.sha256 else self.weights}{suffix}"
        self.dim = int(pool.shape[-1])
        self._run = tf.function(self._forward, reduce_retracing=True)
        self._run_resized = tf.function(self._forward_resized, reduce_retracing=True)

    def describe(self, image_size: tuple[int, int] | None = None) -> dict:
        """The network, its weights (``imagenet``, ``random`` or ``file`` with the file's SHA-256), the
        feature dimension and how images are resized, for a result's ``protocol``."""
        return {
            "name": f"{NETWORK}-{'random' if self.weights == RANDOM else 'imagenet'}",
            "weights": self.weights,
            "sha256": self.sha256,
            "dim": self.dim,
            "resize": CLEAN_DESCRIPTION if self.resize == CLEAN else RESIZE,
        }

    def _features_and_logits(self, inputs):
        features = self._model(inputs, training=False)
        logits = tf.matmul(features, tf.convert_to_tensor(self._kernel)) + tf.convert_to_tensor(self._bias)
        return features, logits

    def _forward(self, images):
        return self._features_and_logits(preprocess_for_inception(images))

    def _forward_resized(self, pixels):
        """Pixels already at 299x299 in [0, 255] (``clean`` resize) -> features, logits."""
        return self._features_and_logits((pixels - 128.0) / 128.0)

    def __call__(self, images) -> tuple[np.ndarray, np.ndarray]:
        if self.resize == CLEAN:
            features, logits = self._run_resized(tf.constant(clean_resize(np.asarray(images))))
        else:
            features, logits = self._run(tf.convert_to_tensor(images, tf.float32))
        return features.numpy(), logits.numpy()
