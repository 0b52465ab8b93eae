"""A view of D overfitting (``log.heldout``): D's outputs on training, held-out and generated images.

On a small training set D memorises its images: its mean output on them climbs while on images of
the same distribution that it never trained on (held out by ``data.subset``) it falls toward its
output on generated images (Karras et al. 2020, "Training GANs with Limited Data", figure 1; Tseng
et al. 2021, figure 2). Every ``every`` steps this callback writes, for fixed images:

- ``overfitting/d_train``, ``overfitting/d_heldout``, ``overfitting/d_generated``: D's mean output on
  the first N training images, the N held-out images and N images of G (fixed z, the held-out labels);
- ``overfitting/gap``: ``d_train - d_heldout``, the overfitting signal;
- ``overfitting/rt_train``, ``overfitting/rt_heldout``: ``E[sign(D(x))]`` on each (ADA's ``r_t``,
  here without augmentation).

D and G run in inference mode (spectral norm's stored estimate, G's moving statistics): the view
changes no state of the run.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from sagan_tf.tracking.tracker import as_tracker

BATCH = 100


def _batched(network, *inputs: np.ndarray) -> np.ndarray:
    """``network`` in inference mode on ``inputs`` in batches of ``BATCH``, as float32 numpy."""
    out = [
        tf.cast(network(tuple(x[i : i + BATCH] for x in inputs), training=False), tf.float32).numpy()
        for i in range(0, len(inputs[0]), BATCH)
    ]
    return np.concatenate(out)


def d_outputs(discriminator, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """D's float32 outputs on ``images``."""
    return _batched(discriminator, images, labels).reshape(-1)


def generated(generator, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _batched(generator, z, labels)


def overfitting_scalars(model, train, heldout, z) -> dict[str, float]:
    """The view's scalars for ``train`` and ``heldout`` ``(images, labels)`` and G's images of ``z``."""
    d = model.discriminator
    fake = generated(model.generator, z, heldout[1])
    outputs = {"train": d_outputs(d, *train), "heldout": d_outputs(d, *heldout), "generated": d_outputs(d, fake, heldout[1])}
    scalars = {f"overfitting/d_{name}": float(v.mean()) for name, v in outputs.items()}
    scalars["overfitting/gap"] = scalars["overfitting/d_train"] - scalars["overfitting/d_heldout"]
    for name in ("train", "heldout"):
        scalars[f"overfitting/rt_{name}"] = float(np.sign(outputs[name]).mean())
    return scalars


class HeldoutView(keras.callbacks.Callback):
    """Writes ``overfitting_scalars`` every ``every`` steps (and at step 0 of a new run)."""

    def __init__(self, writer, every: int, train, heldout, z_dim: int, seed: int = 0):
        super().__init__()
        self.tracker, self.every = as_tracker(writer), every
        self.train, self.heldout = train, heldout
        self.z = np.random.default_rng(seed).standard_normal((len(heldout[0]), z_dim)).astype(np.float32)

    def _write(self, step: int) -> None:
        self.tracker.scalars(step, overfitting_scalars(self.model, self.train, self.heldout, self.z))

    def on_train_begin(self, logs=None):
        if int(self.model.step.numpy()) == 0:
            self._write(0)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.step.numpy())
        if step % self.every == 0:
            self._write(step)
