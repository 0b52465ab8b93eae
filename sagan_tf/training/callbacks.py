"""Keras callbacks that show a training run in its trackers (TensorBoard, MLflow, W&B): scalars and sample grids.

They work with ``model.fit`` and with ``sagan_tf.training.loop.train``. The step is the model's own counter
(``SAGAN.step``), so numbering continues across resumed runs. ``always_runs = True`` marks the cheap
ones that ``loop.train`` runs first at every step and also after a SIGTERM (the others are skipped then;
``runs.checkpointing.PeriodicCheckpoint`` is one of them).
"""

from __future__ import annotations

import keras

from sagan_tf.tracking.tracker import as_tracker
from sagan_tf.training.samples import sample_grid


def _step(model) -> int:
    return int(model.step.numpy())


class ScalarSummaries(keras.callbacks.Callback):
    """Writes every logged value (losses, D outputs, gammas, learning rates) every ``every`` steps."""

    always_runs = True

    def __init__(self, writer, every: int):
        """``writer``: a ``tracking.Tracker`` or a ``tf.summary`` writer (``tracking.as_tracker``)."""
        super().__init__()
        self.tracker = as_tracker(writer)
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        step = _step(self.model)
        if step % self.every or not logs:
            return
        self.tracker.scalars(step, {name: float(value) for name, value in logs.items()})


class SampleGrid(keras.callbacks.Callback):
    """Logs a per-class grid of samples from fixed z every ``every`` steps (image ``samples``)."""

    def __init__(self, writer, every: int, generator_fn, z, labels, cols: int):
        super().__init__()
        self.tracker = as_tracker(writer)
        self.every = every
        self.generator_fn = generator_fn
        self.z, self.labels, self.cols = z, labels, cols

    def on_train_batch_end(self, batch, logs=None):
        step = _step(self.model)
        if step % self.every:
            return
        grid = sample_grid(self.generator_fn(), self.z, self.labels, self.cols)
        self.tracker.images(step, {"samples": grid})
