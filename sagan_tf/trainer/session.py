"""One training session: build under the strategy, resume from the latest checkpoint, train to
``train.steps`` with every callback of a run (checkpoints, the training record, scalars and samples
in the trackers of ``log.trackers``, in-training FID and attention pictures, the held-out view of D),
stop cleanly on a signal.

A resumed run replays the input pipeline up to its step (the batches are a deterministic function
of ``train.seed``), so with ``--deterministic`` a run that was interrupted and resumed ends with the
same weights as one that was not. The config, not the checkpoint, decides the learning rates of a
resumed run (and a fixed augmentation probability; an adaptive one goes on from where it was).
"""

from __future__ import annotations

import sys
from pathlib import Path

from sagan_tf import interrupts
from sagan_tf.config import Config
from sagan_tf.errors import DataError, Stopped
from sagan_tf.runs.run_dir import CHECKPOINT_DIR, SUMMARY_DIR
from sagan_tf.tracking import Trackers, open_trackers
from sagan_tf.trainer.data_check import describe_data_failure
from sagan_tf.trainer.ops_setting import resolve_ops
from sagan_tf.trainer.precision import resolve_precision
from sagan_tf.trainer.run_directory import check_logdir_writable, prepare_logdir
from sagan_tf.trainer.signals import interruption_message


def train_session(
    cfg: Config,
    logdir: Path,
    strategy,
    data_dir: str | None = None,
    verbose: int = 1,
    stop_requests: interrupts.StopRequests = interrupts.NEVER,
    summary_dir: Path | None = None,
):
    """Builds everything under ``strategy``, resumes if possible and trains to ``train.steps``;
    returns the trained ``SAGAN``.

    ``train.precision: auto`` is decided here for the devices of ``strategy`` (``resolve_precision``),
    under ``multiworker`` once for all workers, and ``model.ops: auto`` (``resolve_ops``), before the
    networks are built. A signal recorded by
    ``stop_requests`` ends training after the current step, with a checkpoint of it, by raising
    ``errors.Stopped`` (its line and exit status). TensorBoard events go to ``summary_dir``
    (default: ``logdir/train``); the trackers of ``log.trackers`` are opened on the chief once
    training is about to start and closed when it ends (as stopped when it did not end well). The
    run directory is written only once the data is known to load: a failed start writes nothing.
    """
    import keras
    import tensorflow as tf

    from sagan_tf.cluster import distribute
    from sagan_tf.data import pipeline as data
    from sagan_tf.runs.checkpointing import Checkpointer, PeriodicCheckpoint
    from sagan_tf.training import loop
    from sagan_tf.training.builders import build_sagan

    chief = distribute.is_chief(strategy)
    if chief:
        check_logdir_writable(logdir)
    requested_precision = resolve_precision(cfg, strategy, logdir)
    requested_ops = resolve_ops(cfg, strategy)
    keras.utils.set_random_seed(cfg.train.seed)
    with strategy.scope():
        model = build_sagan(cfg)
        checkpointer = Checkpointer(model, str(logdir / CHECKPOINT_DIR), cfg.log.keep_checkpoints, chief)
        restored = checkpointer.restore_latest()
        source = None
        if restored is None and cfg.train.init_from:
            from sagan_tf.trainer.init_from import start_from

            source = start_from(model, cfg.train.init_from, cfg.data.num_classes)
        model.g_optimizer.learning_rate.assign(cfg.train.g_lr)
        model.d_optimizer.learning_rate.assign(cfg.train.d_lr)
        if not model.augment_probability.adaptive:
            model.augment_probability.probability.assign(cfg.augment.probability)
    stop_requests.last_checkpoint = lambda: checkpointer.last_path
    start = int(model.step.numpy())
    if restored:
        print(f"resuming from {restored} at step {start}", file=sys.stderr)
    remaining = cfg.train.steps - start
    if remaining <= 0:
        print(f"already trained {start} steps (train.steps = {cfg.train.steps}); nothing to do", file=sys.stderr)
        return model
    seed, skip = cfg.train.seed, start
    if cfg.data.resume == "reshuffle" and start:
        seed, skip = (cfg.train.seed * 1_000_003 + start) % 2**31, 0
    dataset = data.make_dataset(
        cfg.data, cfg.train.batch_size * cfg.train.d_steps, data_dir, seed, skip_batches=skip, heldout=cfg.log.heldout
    )
    prepare_logdir(logdir, cfg, chief, requested_precision, requested_ops)

    periodic = PeriodicCheckpoint(checkpointer, cfg.log.checkpoint_every)
    callbacks, trackers, ended = [periodic], Trackers(), False
    try:
        if chief:
            trackers = open_trackers(cfg, logdir, summary_dir or logdir / SUMMARY_DIR)
            callbacks = chief_callbacks(cfg, model, strategy, logdir, periodic, data_dir, trackers,
                                        source.checkpoint if source else None)
        logs = loop.train(
            model, dataset, strategy, remaining, callbacks, verbose=verbose, jit_compile=cfg.train.jit_compile,
            stop_requests=stop_requests,
        )
    except tf.errors.InvalidArgumentError as e:
        raise DataError(describe_data_failure(cfg, e)) from None
    except interrupts.Interrupted as stop:  # the checkpoint callback has saved stop.step on the way out
        message = interruption_message(stop, checkpointer.latest, logdir, chief)
        raise Stopped(message, stop_requests.status(stop)) from None
    else:
        ended = True
    finally:
        trackers.close(ended)
    summary = ", ".join(f"{k}={v:.4f}" for k, v in logs.items() if k in ("d_loss", "g_loss", "d_real", "d_fake"))
    print(f"step {int(model.step.numpy())}: {summary}; checkpoint {checkpointer.latest}", file=sys.stderr)
    return model


def chief_callbacks(cfg: Config, model, strategy, logdir: Path, periodic, data_dir: str | None, writer,
                    init_from: str | None = None) -> list:
    """What the chief runs after each step: scalars, sample grids, the periodic checkpoint, the
    training record (with the checkpoint a new run was ``init_from``), in-training FID and attention
    pictures, the held-out view of D; ``writer`` (the open ``tracking.Trackers``) receives them."""
    from sagan_tf.evaluation.callbacks import evaluation_callbacks
    from sagan_tf.runs import record
    from sagan_tf.training import callbacks, samples

    log = cfg.log
    z, labels, cols = samples.fixed_sample_inputs(cfg.model.z_dim, cfg.data.num_classes, log.samples_per_class)
    return [
        callbacks.ScalarSummaries(writer, log.scalars_every),
        callbacks.SampleGrid(writer, log.samples_every, lambda: model.sampling_generator, z, labels, cols),
        periodic,
        record.TrainingRecord(logdir, periodic, {**record.session_info(cfg, strategy),
                                                 **({"init_from": init_from} if init_from else {})}),
    ] + evaluation_callbacks(cfg, model, writer, logdir, data_dir) + heldout_callbacks(cfg, writer, data_dir)


def heldout_callbacks(cfg: Config, writer, data_dir: str | None) -> list:
    """The view of D on training, held-out and generated images (``log.heldout`` > 0), else none."""
    n = cfg.log.heldout
    if not n:
        return []
    from sagan_tf.data import pipeline, subset
    from sagan_tf.training.heldout import HeldoutView

    parts = pipeline.fixed_parts(cfg.data, None, n, data_dir)
    view = HeldoutView(writer, cfg.log.heldout_every, parts[subset.TRAIN], parts[subset.HELDOUT], cfg.model.z_dim, cfg.train.seed)
    return [view]
