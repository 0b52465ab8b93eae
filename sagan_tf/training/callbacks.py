"""Keras callbacks that show a training run in TensorBoard: scalars and sample grids.

They work with ``model.fit`` and with ``sagan_tf.training.loop.train``. The step is the model's own counter
(``SAGAN.step``), so numbering continues across resumed runs. ``always_runs = True`` marks the cheap
ones that ``loop.train`` runs first at every step and also after a SIGTERM (the others are skipped then;
``runs.checkpointing.PeriodicCheckpoint`` is one of them).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.training.samples import sample_grid


def _step(model) -> int:
    return int(model.step.numpy())


class ScalarSummaries(keras.callbacks.Callback):
    """Writes every logged value (losses, D outputs, gammas, learning rates) every ``every`` steps."""

    always_runs = True

    def __init__(self, writer: tf.summary.SummaryWriter, every: int):
        super().__init__()
        self.writer = writer
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        step = _step(self.model)
        if step % self.every or not logs:
            return
        with self.writer.as_default(step=step):
            for name, value in logs.items():
                tf.summary.scalar(name, float(value))
        self.writer.flush()


class SampleGrid(keras.callbacks.Callback):
    """Logs a per-class grid of samples from fixed z every ``every`` steps (image ``samples``)."""

    def __init__(self, writer: tf.summary.SummaryWriter, every: int, generator_fn, z, labels, cols: int):
        super().__init__()
        self.writer = writer
        self.every = every
        self.generator_fn = generator_fn
        self.z, self.labels, self.cols = z, labels, cols

    def on_train_batch_end(self, batch, logs=None):
        step = _step(self.model)
        if step % self.every:
            return
        grid = sample_grid(self.generator_fn(), self.z, self.labels, self.cols)
        with self.writer.as_default(step=step):
            tf.summary.image("samples", grid[None])
        self.writer.flush()
