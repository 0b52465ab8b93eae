"""Train a SAGAN: sagan-train --config fashion_mnist32 --logdir runs/fmnist [--strategy mirrored].

Running the same command again resumes from the latest checkpoint in ``DIR/checkpoints``; a
checkpoint written with a different model config is an error, not a silent re-initialisation.
``DIR`` holds ``config.yaml`` (the resolved config), ``checkpoints/`` and TensorBoard events
(``tensorboard --logdir DIR``). ``--dry-run`` says what a run would do (the resolved config, the
data found, the model's size, the replicas and their batch) and writes nothing.

A folder of images is surveyed before training (``data.folder_survey``): a config that does not
fit the images stops with one line, ``data.num_classes: auto`` becomes the number of class
subfolders and their names are recorded in ``config.yaml`` (``data.class_names``).

SIGTERM or SIGINT: the step in flight finishes, a checkpoint of it is written, one line says so and
the exit status is 128 + the signal's number (143, 130); under ``multiworker`` every worker stops
after the same step (``sagan_tf.interrupts``). One trainer per run directory: while a
trainer runs, ``DIR/trainer.lock`` is locked (by the chief under ``multiworker``) and a second
trainer on ``DIR`` is refused at once (``sagan_tf.locks``).

``--cluster`` says where ``--strategy multiworker`` finds its cluster: ``tf_config`` (each process's
``TF_CONFIG``, as Kubeflow's TFJob and Vertex AI set it), ``slurm`` (the job step of ``srun``, through
TensorFlow's ``SlurmClusterResolver``; task 0 is the chief) or ``kubernetes`` (the pod of an Indexed
Job; index 0 is the chief). On Vertex AI the run directory, the TensorBoard events and the exported
generator default to ``AIP_CHECKPOINT_DIR``, ``AIP_TENSORBOARD_LOG_DIR`` and ``AIP_MODEL_DIR``
(``sagan_tf.cluster.vertex``). ``precision: auto`` is decided once for the whole cluster: every
worker trains in the same precision.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from pathlib import Path

from sagan_tf import cluster, interrupts, locks
from sagan_tf.cli.arguments import parser
from sagan_tf.cluster import vertex
from sagan_tf.config import PRECISION_CHOICES, STRATEGIES
from sagan_tf.errors import CheckpointError, DataError, SaganError, Stopped, exits_cleanly
from sagan_tf.runs.run_dir import CHECKPOINT_DIR, CONFIG_FILE, LOCK_FILE, SUMMARY_DIR


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = parser("train", __doc__)
    p.add_argument(
        "--config", help="YAML config: a path or a built-in name such as fashion_mnist32 (default: the config.yaml of the run being resumed)"
    )
    p.add_argument(
        "--logdir",
        help="run directory: config.yaml, checkpoints/, TensorBoard events (required to train; on Vertex AI "
        "default: $AIP_CHECKPOINT_DIR, with the events in $AIP_TENSORBOARD_LOG_DIR)",
    )
    p.add_argument(
        "--strategy", choices=STRATEGIES, default="default",
        help="default: one device; mirrored: all local GPUs (else the CPU); multiworker: several processes, "
        "see --cluster; tpu: with --tpu",
    )
    p.add_argument(
        "--cluster", choices=cluster.CLUSTERS, default="tf_config",
        help="where --strategy multiworker finds the cluster: tf_config: the TF_CONFIG environment variable; "
        "slurm: the Slurm job step (run under srun; task 0 is the chief); kubernetes: the pod of an Indexed Job "
        "(JOB_COMPLETION_INDEX, SAGAN_WORKERS, SAGAN_WORKER_HOSTS; index 0 is the chief)",
    )
    p.add_argument(
        "--port-base", type=int, default=None, metavar="PORT",
        help="--cluster slurm: the tasks of a node listen on PORT, PORT+1, ... (default: 8888, "
        "as TensorFlow's SlurmClusterResolver)",
    )
    p.add_argument(
        "--gpus-per-task", type=int, default=None, metavar="N",
        help="--cluster slurm: GPUs per task (default: the node's GPUs shared evenly by its tasks; "
        "0: keep the CUDA_VISIBLE_DEVICES Slurm gives each task)",
    )
    p.add_argument("--tpu", help="TPU name, grpc:// address or 'local', for --strategy tpu")
    p.add_argument("--steps", type=int, help="train until this many steps in total (train.steps)")
    p.add_argument("--batch-size", type=int, help="global batch size over all replicas (train.batch_size)")
    p.add_argument("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR, else ~/tensorflow_datasets)")
    p.add_argument("--seed", type=int, help="seed of initialisation, noise and shuffling (train.seed)")
    p.add_argument(
        "--precision", choices=PRECISION_CHOICES,
        help="dtype policy (train.precision); auto: mixed_bfloat16 where the hardware runs bfloat16 fast, else float32",
    )
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", help="config overrides, e.g. model.ch=32")
    p.add_argument("--deterministic", action="store_true", help="deterministic ops: the same seed gives the same weights")
    p.add_argument("--virtual-cpus", type=int, default=0, help="split the CPU into N logical devices (to try mirrored without GPUs)")
    p.add_argument("--verbose", type=int, choices=(0, 1), default=1, help="0: quiet, 1: progress bar")
    p.add_argument(
        "--print-config", action="store_true",
        help="print the resolved config (bases, overrides and flags applied) as YAML and exit without training",
    )
    p.add_argument(
        "--dry-run", action="store_true",
        help="print the resolved config, the data found, the model's parameter count and the replicas, "
        "check that the config fits the data, and exit without writing anything",
    )
    args = p.parse_args(argv)
    try:
        args.outputs = vertex.outputs(args.logdir, os.environ)
    except SaganError as e:
        p.error(str(e))
    args.logdir = args.outputs.logdir
    if args.logdir is None and not (args.print_config or args.dry_run):
        p.error("--logdir is required")
    if args.logdir and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", args.logdir):
        p.error(f"--logdir {args.logdir}: the run directory must be a file system path (local, NFS, or a bucket "
                "mounted with gcsfuse / s3fs, e.g. /gcs/BUCKET/runs/name); URLs are not supported")
    if args.cluster != "tf_config" and args.strategy != "multiworker":
        p.error(f"--cluster {args.cluster} needs --strategy multiworker")
    for flag, value in (("--port-base", args.port_base), ("--gpus-per-task", args.gpus_per_task)):
        if value is not None and args.cluster != "slurm":
            p.error(f"{flag} needs --cluster slurm")
    if args.tpu is not None and args.strategy != "tpu":
        p.error("--tpu needs --strategy tpu")
    return args


def resolve_config(args: argparse.Namespace, count_classes: bool = True):
    """The config file plus overrides and flags, checked against a run already in ``--logdir``;
    ``count_classes``: a folder's classes resolved (``image_folder.resolve_classes``)."""
    from sagan_tf import config as config_lib

    saved_path = Path(args.logdir) / CONFIG_FILE if args.logdir else None
    saved = saved_path is not None and saved_path.exists()
    source = args.config or (saved_path if saved else None)
    if source is None:
        raise SaganError(f"--config is required (no {saved_path} to resume from)" if saved_path else "--config is required")
    overrides = list(args.set)
    flags = (("steps", "train.steps"), ("batch_size", "train.batch_size"), ("seed", "train.seed"), ("precision", "train.precision"))
    for flag, key in flags:
        if getattr(args, flag) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")
    cfg = config_lib.load(source, overrides)
    if count_classes:
        from sagan_tf.data.image_folder import resolve_classes

        resolve_classes(cfg.data)
    if saved:
        saved = config_lib.load(saved_path)
        mine, theirs = _flatten(cfg.model_signature()), _flatten(saved.model_signature())
        diff = [f"{k}: {theirs.get(k)} -> {mine.get(k)}" for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
        if diff:
            raise CheckpointError(
                f"{args.logdir} holds a run with a different model ({'; '.join(diff)}); "
                "use a new --logdir or the original config"
            )
    return cfg


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flatten(v, key + ".") if isinstance(v, dict) else {key: v})
    return out


def describe_data_failure(cfg, error) -> str:
    """One line for an error raised by the input pipeline during training."""
    lines = [line.strip() for line in error.message.strip().splitlines()]
    lines = [line for line in lines if line and not line.startswith(("[[", "Graph execution error", "Detected at node"))]
    message = lines[-1] if lines else type(error).__name__
    if cfg.data.source == "folder" and "label" not in message:
        from sagan_tf.data.image_folder import find_undecodable

        bad = find_undecodable(cfg.data)
        if bad:
            return f"cannot decode image(s) {', '.join(bad)}; remove them or set data.skip_corrupt: true"
    return f"bad training data: {message}"


def check_logdir_writable(logdir: Path) -> None:
    """Fails early, without writing anything, when ``logdir`` cannot be created or written."""
    probe = logdir
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise SaganError(f"cannot write to --logdir {logdir}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SaganError(f"cannot write to --logdir {logdir}: {probe} is not writable")


def prepare_logdir(logdir: Path, cfg, chief: bool, precision: str | None = None) -> None:
    """The run directory with its ``config.yaml`` (``train.precision`` as requested: ``precision``)."""
    import dataclasses

    from sagan_tf import config as config_lib

    if not chief:
        return
    if precision is not None:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, precision=precision))
    try:
        (logdir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        config_lib.save(cfg, logdir / CONFIG_FILE)
    except OSError as e:
        raise SaganError(f"cannot write to --logdir {logdir}: {e.strerror or e}") from None


def lock_run_dir(logdir: Path, chief: bool) -> contextlib.AbstractContextManager:
    """Holds ``DIR/trainer.lock`` for the whole run on the chief (a no-op on the other workers).

    Refuses at once, naming the holder, when another live trainer holds it. A lock left by a trainer
    that died is released by the operating system, so it never blocks a restart.
    """
    if not chief:
        return contextlib.nullcontext()
    check_logdir_writable(logdir)
    lock = locks.DirectoryLock(logdir, LOCK_FILE, str(logdir))
    try:
        return lock.acquire()
    except locks.LockingUnsupported as e:
        print(f"warning: {e.strerror}; a second trainer on {logdir} would not be stopped", file=sys.stderr)
        return contextlib.nullcontext()
    except locks.LockHeld as e:
        raise SaganError(
            f"{logdir} is in use by another trainer ({locks.describe(e.holder)}); stop it first or use another --logdir"
        ) from None
    except OSError as e:
        raise SaganError(f"cannot write to --logdir {logdir}: {e.strerror or e}") from None


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.print_config:
        from sagan_tf import config as config_lib

        print(config_lib.dump(resolve_config(args, count_classes=False)), end="")
        return 0
    if args.dry_run:
        return dry_run(args)
    logdir = Path(args.logdir)
    multiworker = args.strategy == "multiworker"
    # Before TensorFlow is imported or any server starts: a second trainer is refused at once.
    chief = not multiworker or cluster.is_chief(args.cluster, os.environ)
    stop_requests = interrupts.StopRequests()
    with stop_requests.installed(), lock_run_dir(logdir, chief):
        if not multiworker:  # several workers stop together, after a step (``interrupts``)
            stop_requests.stop_at_once()
        from sagan_tf.cluster import distribute

        if multiworker:  # before the devices are set up: the cluster may say which GPUs this task gets
            distribute.join_cluster(args.cluster, args.port_base, args.gpus_per_task)
        if args.virtual_cpus > 1:
            distribute.split_cpu(args.virtual_cpus)
        cfg = resolve_config(args)
        for line in check_data(cfg)[1]:
            print(f"warning: {line}", file=sys.stderr)
        if args.deterministic:
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        strategy = distribute.make_strategy(args.strategy, args.tpu)
        stop_requests.reclaim()  # a multi-worker strategy takes SIGTERM over
        distribute.check_global_batch(cfg.train.batch_size, strategy)
        summary_dir = Path(args.outputs.summary_dir) if args.outputs.summary_dir else None
        run(cfg, logdir, strategy, data_dir=args.data_dir, verbose=args.verbose, stop_requests=stop_requests,
            summary_dir=summary_dir)
        if chief and args.outputs.export_dir:  # the run has reached train.steps: Vertex AI's model directory
            from sagan_tf.serving import final_export

            final_export.export_once(logdir, Path(args.outputs.export_dir))
    return 0


def check_data(cfg):
    """``(survey, warnings)`` of a folder of images (``data.folder_survey``), raising where the config
    does not fit the images; ``(None, [])`` for TFDS data."""
    if cfg.data.source != "folder":
        return None, []
    from sagan_tf.data.folder_survey import check_fit, survey

    found = survey(cfg.data)
    return found, check_fit(cfg.data, found, cfg.train.batch_size * cfg.train.d_steps)


def dry_run(args: argparse.Namespace) -> int:
    """``--dry-run``: what training would do, on stdout; nothing is written."""
    from sagan_tf import config as config_lib

    cfg = resolve_config(args)
    from sagan_tf.cluster import distribute

    if args.strategy == "multiworker":
        distribute.join_cluster(args.cluster, args.port_base, args.gpus_per_task)
    if args.virtual_cpus > 1:
        distribute.split_cpu(args.virtual_cpus)
    print(config_lib.dump(cfg), end="")
    print("---")
    found, warnings = check_data(cfg)
    if found is not None:
        print("\n".join(found.report()))
        for line in warnings:
            print(f"warning: {line}")
    else:
        print(f"data: TFDS {cfg.data.name}, split {cfg.data.split!r}, {cfg.data.num_classes} classes "
              "(read when training starts)")
    if cfg.data.limit or cfg.log.heldout:
        print(f"subset: {cfg.log.heldout} images held out (log.heldout), then training on "
              f"{cfg.data.limit or 'all the other'} images (data.limit), balanced over the classes")
    if cfg.augment.policy or cfg.train.lecam_weight:
        adaptive = f"adaptive (ADA, target {cfg.augment.ada_target})" if cfg.augment.ada_target else "fixed"
        print(f"small data: augmentation {cfg.augment.policy or 'off'}, probability {cfg.augment.probability} "
              f"{adaptive}; LeCam weight {cfg.train.lecam_weight}")

    import numpy as np

    from sagan_tf.training.builders import build_discriminator, build_generator

    strategy = distribute.make_strategy(args.strategy, args.tpu)
    distribute.check_global_batch(cfg.train.batch_size, strategy)
    resolve_precision(cfg, strategy, Path(args.logdir) if args.logdir else None)
    with strategy.scope():
        g, d = build_generator(cfg), build_discriminator(cfg)
    counts = [int(sum(np.prod(v.shape) for v in net.trainable_weights)) for net in (g, d)]
    replicas, batch = strategy.num_replicas_in_sync, cfg.train.batch_size
    print(f"model: {cfg.model.arch}, G {counts[0]:,} and D {counts[1]:,} trainable parameters, "
          f"precision {cfg.train.precision}")
    print(f"replicas: {replicas} ({args.strategy}), global batch {batch} = {batch // replicas} per replica, "
          f"{cfg.train.d_steps} D update(s) per step, {cfg.train.steps} steps")
    print("dry run: nothing written")
    return 0


def resolve_precision(cfg, strategy, logdir: Path | None = None, cpu_flags: set[str] | None = None) -> str:
    """``train.precision: auto`` -> the policy for the devices ``strategy`` computes on, said in one
    line, with a second line when the run in ``logdir`` last trained in another; returns the
    requested precision, which the run's ``config.yaml`` keeps (``auto`` decides again on every start).

    Under ``multiworker`` ``auto`` is the cluster's decision (``precision.cluster_choice``: bfloat16
    only if every worker would pick it); a worker whose hardware would have picked otherwise says so
    in its line. ``cpu_flags``: the host's CPU feature flags (default: read from the system).
    """
    import tensorflow as tf

    from sagan_tf.cluster import distribute
    from sagan_tf.runs import record
    from sagan_tf.training import loop
    from sagan_tf.training.precision import cluster_choice, resolve, strategy_gpus

    requested = cfg.train.precision
    tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    cfg.train.precision, reason = resolve(requested, tpu=tpu, gpus=None if tpu else strategy_gpus(strategy), flags=cpu_flags)
    if reason is not None and distribute.is_multi_client(strategy):
        agree = loop.make_agreement(strategy)
        mine = cfg.train.precision
        cfg.train.precision, lacking, replicas = cluster_choice(mine, lambda v: agree(tf.constant(v, tf.float32)).numpy().tolist())
        if cfg.train.precision != mine:
            reason = (f"the cluster's choice: {lacking} of its {replicas} replicas run on hardware without fast bfloat16; "
                      f"this worker alone would train in {mine}: {reason}")
    if reason is not None:
        print(f"precision {requested}: {cfg.train.precision} ({reason})", file=sys.stderr)
        sessions = record.read(logdir) if logdir is not None else []
        last = sessions[-1].get("precision") if sessions else None
        if last and last != cfg.train.precision:
            print(f"precision {requested}: this session trains in {cfg.train.precision}, the run's last one trained in "
                  f"{last} (--precision {last} keeps it)", file=sys.stderr)
    return requested


def interruption_message(stop: interrupts.Interrupted, checkpoint: str | None, logdir: Path, chief: bool) -> str:
    """``interrupted by SIGTERM at step 37; checkpoint RUN/checkpoints/ckpt-37; run the same command to resume``."""
    where = "" if stop.here else " on another worker"
    if not chief:
        checkpoint = f"{logdir / CHECKPOINT_DIR}/ckpt-{stop.step} (written by the chief)"
    return (
        f"interrupted by {interrupts.names(stop.signals)}{where} at step {stop.step}; "
        f"checkpoint {checkpoint}; run the same command to resume"
    )


def run(
    cfg,
    logdir: Path,
    strategy,
    data_dir: str | None = None,
    verbose: int = 1,
    stop_requests: interrupts.StopRequests = interrupts.NEVER,
    cpu_flags: set[str] | None = None,
    summary_dir: Path | None = None,
):
    """Builds everything under ``strategy``, resumes if possible and trains to ``train.steps``.

    Returns the trained ``SAGAN``. A resumed run replays the input pipeline up to its step (the
    batches are a deterministic function of ``train.seed``), so with ``--deterministic`` a run that
    was interrupted and resumed ends with the same weights as one that was not.

    ``train.precision: auto`` is decided here for the devices of ``strategy`` (``resolve_precision``,
    for the host's CPU feature ``cpu_flags``, default: read from the system), under
    ``multiworker`` once for all workers, before the networks are built.
    A signal recorded by ``stop_requests`` ends training after the current step, with a checkpoint
    of it, by raising ``errors.Stopped`` (its line and exit status). TensorBoard events go to
    ``summary_dir`` (default: ``logdir/train``).
    """
    import keras
    import tensorflow as tf

    from sagan_tf.cluster import distribute
    from sagan_tf.data import pipeline as data
    from sagan_tf.evaluation.callbacks import evaluation_callbacks
    from sagan_tf.runs import record
    from sagan_tf.runs.checkpointing import Checkpointer, PeriodicCheckpoint
    from sagan_tf.training import callbacks, loop, samples
    from sagan_tf.training.builders import build_sagan

    chief = distribute.is_chief(strategy)
    if chief:
        check_logdir_writable(logdir)
    requested_precision = resolve_precision(cfg, strategy, logdir, cpu_flags)
    keras.utils.set_random_seed(cfg.train.seed)
    with strategy.scope():
        model = build_sagan(cfg)
        checkpointer = Checkpointer(model, str(logdir / CHECKPOINT_DIR), cfg.log.keep_checkpoints, chief)
        restored = checkpointer.restore_latest()
        # The config, not the checkpoint, decides the learning rates of a resumed run (and a fixed
        # augmentation probability; an adaptive one goes on from where it was).
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
    prepare_logdir(logdir, cfg, chief, requested_precision)  # only once the data is known to load: a failed start writes nothing

    log = cfg.log
    periodic = PeriodicCheckpoint(checkpointer, log.checkpoint_every)
    cbs: list[keras.callbacks.Callback] = [periodic]
    if chief:
        writer = tf.summary.create_file_writer(str(summary_dir or logdir / SUMMARY_DIR))
        z, labels, cols = samples.fixed_sample_inputs(cfg.model.z_dim, cfg.data.num_classes, log.samples_per_class)
        cbs = [
            callbacks.ScalarSummaries(writer, log.scalars_every),
            callbacks.SampleGrid(writer, log.samples_every, lambda: model.sampling_generator, z, labels, cols),
            periodic,
            record.TrainingRecord(logdir, periodic, record.session_info(cfg, strategy)),
        ] + evaluation_callbacks(cfg, model, writer, logdir, data_dir) + heldout_callbacks(cfg, writer, data_dir)
    try:
        logs = loop.train(
            model, dataset, strategy, remaining, cbs, verbose=verbose, jit_compile=cfg.train.jit_compile,
            stop_requests=stop_requests,
        )
    except tf.errors.InvalidArgumentError as e:
        raise DataError(describe_data_failure(cfg, e)) from None
    except interrupts.Interrupted as stop:  # the checkpoint callback has saved stop.step on the way out
        message = interruption_message(stop, checkpointer.latest, logdir, chief)
        raise Stopped(message, stop_requests.status(stop)) from None
    summary = ", ".join(f"{k}={v:.4f}" for k, v in logs.items() if k in ("d_loss", "g_loss", "d_real", "d_fake"))
    print(f"step {int(model.step.numpy())}: {summary}; checkpoint {checkpointer.latest}", file=sys.stderr)
    return model


def heldout_callbacks(cfg, writer, data_dir: str | None) -> list:
    """The view of D on training, held-out and generated images (``log.heldout`` > 0), else none."""
    n = cfg.log.heldout
    if not n:
        return []
    from sagan_tf.data import pipeline, subset
    from sagan_tf.training.heldout import HeldoutView

    parts = pipeline.fixed_parts(cfg.data, n, n, data_dir)
    view = HeldoutView(writer, cfg.log.heldout_every, parts[subset.TRAIN], parts[subset.HELDOUT], cfg.model.z_dim, cfg.train.seed)
    return [view]


if __name__ == "__main__":
    sys.exit(main())
