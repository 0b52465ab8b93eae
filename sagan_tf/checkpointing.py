"""Checkpoints of a training run: G, D, both optimizers (with the step counter) and SN ``u``.

``tf.train.CheckpointManager`` writes the data files first and then replaces the small
``checkpoint`` index file, so an interrupted write leaves the index on the previous, complete
checkpoint. Before writing, every variable is checked to be finite: a diverged state is never saved.
The noise stream is a stateless function of ``(train.seed, step)``, so the step is the RNG state.
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf.errors import CheckpointError, DivergenceError
from sagan_tf.gan import SAGAN


def training_checkpoint(model: SAGAN) -> tf.train.Checkpoint:
    """Everything a resumed run needs."""
    return tf.train.Checkpoint(
        generator=model.generator,
        discriminator=model.discriminator,
        g_optimizer=model.g_optimizer,
        d_optimizer=model.d_optimizer,
    )


def all_finite(variables) -> bool:
    floats = [v for v in variables if tf.as_dtype(v.dtype).is_floating]
    if not floats:
        return True
    return bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(v))) for v in floats]))


class Checkpointer:
    """Saves every ``every`` steps into ``directory`` keeping the last ``keep``; restores the latest."""

    def __init__(self, model: SAGAN, directory: str, keep: int):
        self.model = model
        self.checkpoint = training_checkpoint(model)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=keep)

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def restore_latest(self) -> str | None:
        """Restores the latest checkpoint, if any; returns its path."""
        path = self.latest
        if path is None:
            return None
        restore(self.checkpoint, path)
        return path

    def save(self, step: int) -> str:
        variables = self.model.generator.variables + self.model.discriminator.variables
        if not all_finite(variables):
            raise DivergenceError(f"weights are NaN or Inf at step {step}; not writing a checkpoint")
        return self.manager.save(checkpoint_number=step)


def restore(checkpoint: tf.train.Checkpoint, path: str, partial: bool = False) -> None:
    """Restores ``path`` into ``checkpoint``; any mismatch is a ``CheckpointError`` naming the file."""
    try:
        status = checkpoint.restore(path)
        if partial:
            status.expect_partial()
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"cannot restore checkpoint {path}: {message[:400]}") from None
