"""Train a SAGAN: sagan-train --config fashion_mnist32 --logdir runs/fmnist [--strategy mirrored].

Argument parsing around ``sagan_tf.trainer.Trainer``, which does the same from Python.

Running the same command again resumes from the latest checkpoint in ``DIR/checkpoints``; a
checkpoint written with a different model config is an error, not a silent re-initialisation.
``DIR`` holds ``config.yaml`` (the resolved config), ``checkpoints/`` and TensorBoard events
(``tensorboard --logdir DIR``). ``--dry-run`` says what a run would do (the resolved config, the
data found, the model's size, the replicas and their batch) and writes nothing. ``--compare-ops``
times the reference and the fast forms of the ops on the config (``model.ops``), with the flags'
strategy and precision, and says which to set.

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
import sys

from sagan_tf import cluster
from sagan_tf.cli.arguments import add_init_from, parser
from sagan_tf.config import PRECISION_CHOICES, STRATEGIES
from sagan_tf.errors import SaganError, exits_cleanly
from sagan_tf.trainer import Trainer

FLAG_KEYS = (("steps", "train.steps"), ("batch_size", "train.batch_size"), ("seed", "train.seed"),
             ("precision", "train.precision"))  # flags that set a config key, applied after --set


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = parser("train", __doc__)
    add_init_from(p)
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
    p.add_argument(
        "--compare-ops", action="store_true",
        help="time the reference and the fast forms of the ops (model.ops) on this config, strategy and precision "
        "with a synthetic batch, check that they agree, say which to set, and exit without writing anything",
    )
    p.add_argument("--compare-steps", type=int, default=10, metavar="N", help="--compare-ops: timed steps of each form")
    args = p.parse_args(argv)
    try:
        args.trainer = make_trainer(args)
    except SaganError as e:
        p.error(str(e))
    args.logdir = str(args.trainer.logdir) if args.trainer.logdir is not None else None
    if args.logdir is None and not (args.print_config or args.dry_run or args.compare_ops):
        p.error("--logdir is required")
    return args


def make_trainer(args: argparse.Namespace) -> Trainer:
    """The ``Trainer`` the flags describe (``--steps`` and the other config flags are overrides after ``--set``)."""
    overrides = list(args.set) + [f"{key}={getattr(args, flag)}" for flag, key in FLAG_KEYS if getattr(args, flag) is not None]
    return Trainer(
        args.config, args.logdir, overrides=overrides, strategy=args.strategy, cluster=args.cluster, tpu=args.tpu,
        port_base=args.port_base, gpus_per_task=args.gpus_per_task, data_dir=args.data_dir,
        deterministic=args.deterministic, virtual_cpus=args.virtual_cpus, verbose=args.verbose,
        init_from=args.init_from,
    )


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.print_config:
        from sagan_tf import config as config_lib

        print(config_lib.dump(args.trainer.config), end="")
    elif args.dry_run:
        print(args.trainer.dry_run(), end="")
    elif args.compare_ops:
        print("\n".join(args.trainer.compare_ops(args.compare_steps).lines()))
    else:
        args.trainer.train()
    return 0


if __name__ == "__main__":
    sys.exit(main())
