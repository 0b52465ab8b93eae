"""TensorBoard as a tracker: ``tf.summary`` event files (the default of ``log.trackers``)."""

from __future__ import annotations

import tensorflow as tf
import yaml

from sagan_tf.tracking.tracker import Tracker


class TensorBoardTracker(Tracker):
    """Scalars and images as ``tf.summary`` events of ``writer`` (a ``tf.summary`` writer or a
    directory); the parameters as one text summary ``config`` (YAML) at step 0."""

    name = "tensorboard"

    def __init__(self, writer):
        if not isinstance(writer, tf.summary.SummaryWriter):
            writer = tf.summary.create_file_writer(str(writer))
        self.writer = writer

    def params(self, values):
        text = yaml.safe_dump(dict(values), sort_keys=False)
        with self.writer.as_default(step=0):
            tf.summary.text("config", "```\n" + text + "```")
        self.writer.flush()

    def scalars(self, step, values):
        with self.writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(name, float(value))
        self.writer.flush()

    def images(self, step, pictures):
        with self.writer.as_default(step=step):
            for name, picture in pictures.items():
                tf.summary.image(name, picture[None])
        self.writer.flush()

    def flush(self):
        self.writer.flush()

    def close(self, ok=True):
        self.writer.flush()
