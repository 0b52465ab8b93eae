"""Where a trainer runs and writes, checked when it is made, before anything is read or written.

* the strategy (a name of ``config.STRATEGIES`` or a ``tf.distribute.Strategy`` made by the
  caller) and what only some strategies take: ``cluster`` (``cluster.CLUSTERS``, with
  ``multiworker``), ``port_base`` and ``gpus_per_task`` (with the ``slurm`` cluster), ``tpu``
  (with ``tpu``), ``virtual_cpus`` (a strategy made here);
* the run directory: a file system path, not a URL (a bucket is given as its gcsfuse or s3fs
  mount); on Vertex AI it defaults to ``AIP_CHECKPOINT_DIR``, the TensorBoard events to
  ``AIP_TENSORBOARD_LOG_DIR`` and the final export to ``AIP_MODEL_DIR`` (``cluster.vertex``).

Each mistake is one ``ConfigError`` line, worded with the ``sagan-train`` flags it comes from.
Plain Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from sagan_tf import cluster as clusters
from sagan_tf.cluster import vertex
from sagan_tf.config import STRATEGIES
from sagan_tf.errors import ConfigError

URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def check_placement(
    strategy, cluster: str, tpu: str | None, port_base: int | None, gpus_per_task: int | None, virtual_cpus: int
) -> None:
    """The strategy's name and the options that go with it (module docstring)."""
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {strategy!r} (choose from {', '.join(STRATEGIES)})")
    elif (cluster, tpu, port_base, gpus_per_task) != ("tf_config", None, None, None) or virtual_cpus > 1:
        raise ConfigError("a tf.distribute.Strategy made by the caller is used as it is: cluster, tpu, port_base, "
                          "gpus_per_task and virtual_cpus go with a strategy's name")
    if cluster not in clusters.CLUSTERS:
        raise ConfigError(f"unknown cluster {cluster!r} (choose from {', '.join(clusters.CLUSTERS)})")
    if cluster != "tf_config" and strategy != "multiworker":
        raise ConfigError(f"--cluster {cluster} needs --strategy multiworker")
    for flag, value in (("--port-base", port_base), ("--gpus-per-task", gpus_per_task)):
        if value is not None and cluster != "slurm":
            raise ConfigError(f"{flag} needs --cluster slurm")
    if tpu is not None and strategy != "tpu":
        raise ConfigError("--tpu needs --strategy tpu")


def outputs(logdir: str | Path | None, summary_dir: str | Path | None, export_dir: str | Path | None,
            environ: Mapping[str, str]) -> vertex.Outputs:
    """The run directory, the TensorBoard events' directory (None: ``LOGDIR/train``) and the final
    export's directory (None: none): as given, else where Vertex AI wants them."""
    found = vertex.outputs(None if logdir is None else str(logdir), environ)
    if found.logdir is not None and URL.match(found.logdir):
        raise ConfigError(f"--logdir {found.logdir}: the run directory must be a file system path (local, NFS, or a "
                          "bucket mounted with gcsfuse / s3fs, e.g. /gcs/BUCKET/runs/name); URLs are not supported")
    return vertex.Outputs(
        logdir=found.logdir,
        summary_dir=str(summary_dir) if summary_dir is not None else found.summary_dir,
        export_dir=str(export_dir) if export_dir is not None else found.export_dir,
    )


def check_batch(cfg, strategy) -> int:
    """Per-replica batch of each update; one ``ConfigError`` line when the replicas cannot share
    ``train.batch_size`` evenly, a replica's share does not split into ``train.accumulate``
    equal micro-batches, or (with ``train.mode_seeking``) a micro-batch is odd."""
    from sagan_tf.cluster import distribute

    per_replica = distribute.check_global_batch(cfg.train.batch_size, strategy)
    k = cfg.train.accumulate
    if per_replica % k:
        raise ConfigError(
            f"global batch size {cfg.train.batch_size} does not split into the {strategy.num_replicas_in_sync} "
            f"replica(s) x {k} micro-batches of train.accumulate: it must be a multiple of "
            f"{strategy.num_replicas_in_sync * k}"
        )
    if cfg.train.mode_seeking and (per_replica // k) % 2:
        raise ConfigError(
            f"train.mode_seeking pairs the examples of each batch of G's update, but the global batch size "
            f"{cfg.train.batch_size} gives {per_replica // k} per replica and micro-batch: make it a multiple of "
            f"{2 * strategy.num_replicas_in_sync * k}"
        )
    return per_replica
