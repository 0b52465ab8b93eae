"""Checkpoints of a training run: G, D, both optimizers (with the step counter) and SN ``u``.

Atomicity: ``tf.train.CheckpointManager`` writes a checkpoint's data and index files first and then
atomically replaces the small ``checkpoint`` state file, so a write interrupted at any point leaves
the state file naming the previous, complete checkpoint. If the newest checkpoint is nevertheless
unreadable (a damaged disk, files removed by hand), restoring falls back to the next older one and
says so. A checkpoint of a different model is never skipped: it is a ``CheckpointError``.

A diverged state is never written: before saving, every variable is checked to be finite.
The noise stream is a stateless function of ``(train.seed, step)``, so the step is the RNG state.

Under ``MultiWorkerMirroredStrategy`` every worker takes part in a save, but only the chief writes
into the run directory; the others write into a private temporary directory that is deleted.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
import tempfile

import keras
import tensorflow as tf

from sagan_tf.errors import CheckpointError, DivergenceError
from sagan_tf.training.divergence import divergence
from sagan_tf.training.ema import SHADOW_NAME
from sagan_tf.training.gan import SAGAN

# Errors that mean "these files cannot be read", as opposed to "this is another model"
# (the checkpoint reader raises IndexError for a data file cut short).
UNREADABLE = (
    tf.errors.DataLossError,
    tf.errors.NotFoundError,
    tf.errors.OutOfRangeError,
    tf.errors.UnknownError,
    IndexError,
)


def variables_by_path(model) -> dict:
    """``{path inside the model: variable}`` for every variable of a Keras model.

    Checkpoints name variables by these paths (``block0_8/cbn1/batch_norm/moving_mean``) instead
    of by Keras' object graph: Keras 3 does not expose layers held in Python lists (G's blocks) or
    a wrapper's inner layer to ``tf.train.Checkpoint``, whose object-based saving would silently
    leave out their non-trainable state (BN moving statistics, SN ``u``).
    """
    out = {}
    for v in model.variables:
        key = v.path.split("/", 1)[-1]
        if key in out:
            raise ValueError(f"two variables of {model.name} share the path {key!r}")
        out[key] = v
    return out


def generator_checkpoint(generator, network: str = "generator") -> tf.train.Checkpoint:
    """A checkpoint object that reads (or writes) only G's variables of a training checkpoint
    (``network=ema.SHADOW_NAME``: the EMA shadow's)."""
    return tf.train.Checkpoint(**{network: variables_by_path(generator)})


REGULARIZATION = "regularization"


def training_checkpoint(model: SAGAN, ema: bool = True, step: bool = True, regularization: bool = True
                        ) -> tf.train.Checkpoint:
    """Everything a resumed run needs: G, D (all variables), both optimizers (slots, loss scale),
    the step counter, G's EMA shadow as ``ema.SHADOW_NAME`` when the model has one, and the
    augmentation probability, ADA's sums and the LeCam anchors as ``REGULARIZATION``."""
    extra = {SHADOW_NAME: variables_by_path(model.ema.generator)} if ema and model.ema is not None else {}
    if step:
        extra["step"] = model.step
    if regularization:
        extra[REGULARIZATION] = model.regularization_state()
    return tf.train.Checkpoint(
        generator=variables_by_path(model.generator),
        discriminator=variables_by_path(model.discriminator),
        g_optimizer=model.g_optimizer,
        d_optimizer=model.d_optimizer,
        **extra,
    )


def has_network(path: str, network: str) -> bool:
    """Whether the checkpoint ``path`` holds ``network`` (``ema.SHADOW_NAME``, ...)."""
    return any(key.startswith(network + "/") for key, _ in tf.train.list_variables(path))


def all_finite(variables) -> bool:
    floats = [v for v in variables if tf.as_dtype(v.dtype).is_floating]
    if not floats:
        return True
    return bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(v))) for v in floats]))


class Checkpointer:
    """Saves into ``directory`` keeping the last ``keep``; restores the newest readable one.

    ``chief=False`` (a non-chief worker): saves go to a temporary directory that is removed, while
    restores still read ``directory`` (which must be on storage every worker can read).
    """

    def __init__(self, model: SAGAN, directory: str, keep: int, chief: bool = True):
        self.model = model
        self.directory = directory
        self.chief = chief
        self.checkpoint = training_checkpoint(model)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=keep) if chief else None
        self.last_path: str | None = None  # the newest checkpoint restored or written by this process

    @property
    def latest(self) -> str | None:
        return tf.train.latest_checkpoint(self.directory)

    def restore_latest(self) -> str | None:
        """Restores the newest readable checkpoint, if any; returns its path."""
        state = tf.train.get_checkpoint_state(self.directory)
        if state is None or not state.model_checkpoint_path:
            return None
        candidates = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
        if state.model_checkpoint_path not in candidates:
            candidates.append(state.model_checkpoint_path)
        failures = []
        for path in reversed(candidates):
            try:
                self._restore(path)
                return path
            except _Unreadable as e:
                failures.append(path)
                print(f"warning: checkpoint {path} is unreadable ({e}); trying an older one", file=sys.stderr)
        raise CheckpointError(f"no readable checkpoint in {self.directory} (tried {', '.join(failures)})")

    def _restore(self, path: str) -> None:
        try:
            names = {key.split("/", 1)[0] for key, _ in tf.train.list_variables(path)}
        except UNREADABLE as e:
            raise _Unreadable(_first_line(e)) from None
        # A run that trained without EMA: the shadow starts from the restored G.
        copy_ema = self.model.ema is not None and SHADOW_NAME not in names
        # A checkpoint from before the step counter existed: its step is the number in its name.
        copy_step = "step" not in names
        # One from before augmentation and LeCam: they start from the config.
        old_state = REGULARIZATION not in names
        if copy_ema or copy_step or old_state:
            restore(training_checkpoint(self.model, ema=not copy_ema, step=not copy_step,
                                        regularization=not old_state), path)
        else:
            restore(self.checkpoint, path)
        if copy_ema:
            self.model.ema.copy_from_source()
        if copy_step:
            self.model.step.assign(step_of(path, self.model))
        self.last_path = path

    def save(self, step: int) -> str | None:
        variables = self.model.generator.variables + self.model.discriminator.variables
        if not all_finite(variables):
            raise DivergenceError(f"weights are NaN or Inf at step {step}; not writing a checkpoint")
        if self.chief:
            path = self.manager.save(checkpoint_number=step)
            self.last_path = path
            return path
        scratch = tempfile.mkdtemp(prefix="sagan_worker_ckpt_")
        try:
            self.checkpoint.write(f"{scratch}/ckpt")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        self.last_path = f"{self.directory}/ckpt-{step} (written by the chief)"
        return None


def step_of(path: str, model: SAGAN) -> int:
    """The step of a checkpoint written without the step counter: the number its name ends with
    (``CheckpointManager`` names ``ckpt-<step>``), else G's update count (which misses float16 updates
    skipped for overflow)."""
    match = re.search(r"-(\d+)$", path)
    return int(match[1]) if match else int(model.g_optimizer.iterations.numpy())


class _Unreadable(Exception):
    pass


def restore(checkpoint: tf.train.Checkpoint, path: str, partial: bool = False) -> None:
    """Restores ``path`` into ``checkpoint``.

    Raises ``CheckpointError`` naming the file when it holds another model (missing or mismatched
    variables), and ``_Unreadable`` (a private signal for the fallback) when it cannot be read.
    """
    try:
        status = checkpoint.restore(path)
        if partial:
            status.expect_partial()
        status.assert_existing_objects_matched()
    except UNREADABLE as e:
        raise _Unreadable(_first_line(e)) from None
    except (ValueError, AssertionError, tf.errors.OpError) as e:
        # The half-restored checkpoint object would log every unmatched value when collected.
        tf.get_logger().setLevel(logging.ERROR)
        raise CheckpointError(
            f"checkpoint {path} does not fit this model ({_first_line(e)[:300]}); "
            "it was written with a different config"
        ) from None


def restore_or_fail(checkpoint: tf.train.Checkpoint, path: str, partial: bool = False) -> None:
    """``restore`` for tools that read one given checkpoint: unreadable is a ``CheckpointError`` too."""
    try:
        restore(checkpoint, path, partial)
    except _Unreadable as e:
        raise CheckpointError(f"checkpoint {path} is unreadable: {e}") from None


_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def read_variables(path: str, network: str) -> dict:
    """``{path inside the model: numpy value}`` of ``network`` ("generator", "discriminator") in a
    training checkpoint, without building any model (for tools and tests)."""
    reader = tf.train.load_checkpoint(path)
    out = {}
    for key in reader.get_variable_to_shape_map():
        if key.startswith(network + "/") and key.endswith(_SUFFIX):
            escaped = key[len(network) + 1 : -len(_SUFFIX)]
            name = re.sub(r"\.(S|\.)", lambda m: "/" if m.group(1) == "S" else ".", escaped)
            out[name] = reader.get_tensor(key)
    return out


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Saves every ``every`` steps and at the end of training, also when training ends early on a
    signal or an error (unless the loss went non-finite, or no step ran: the state at the start is
    already on disk, or is the seeded initialisation)."""

    always_runs = True

    def __init__(self, checkpointer: Checkpointer, every: int):
        super().__init__()
        self.checkpointer = checkpointer
        self.every = every
        self.last_saved = None

    def on_train_begin(self, logs=None):
        self.last_saved = int(self.model.step.numpy())

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.step.numpy())
        if step % self.every == 0:
            self._save(step)

    def on_train_end(self, logs=None):
        step = int(self.model.step.numpy())
        if step != self.last_saved and divergence({k: float(v) for k, v in (logs or {}).items()}) is None:
            self._save(step)

    def _save(self, step: int) -> None:
        self.checkpointer.save(step)
        self.last_saved = step
