"""``Trainer``: a training run from Python, everything ``sagan-train`` does.

``Trainer(config, logdir).train()`` trains to ``train.steps`` and returns the trained ``SAGAN``;
calling it again (in this process or another) resumes from the run's latest checkpoint. A session:

1. is refused at once when another trainer holds the run directory (``run_directory.lock_run_dir``,
   on the chief only under ``multiworker``: ``cluster.is_chief`` answers before TensorFlow starts);
2. handles SIGTERM and SIGINT (``signals``): the step in flight finishes, a checkpoint of it is
   written and ``errors.Stopped`` is raised with its line and exit status;
3. joins the cluster (``--strategy multiworker``), splits the CPU (``virtual_cpus``), resolves the
   config (``run_config``: the config and overrides, or the run's own ``config.yaml``), checks the
   data (``data_check``), makes the strategy and checks that its replicas share the global batch;
4. trains (``session.train_session``), then on Vertex AI (or with ``export_dir``) exports the
   generator once (``serving.final_export``).

A user error is a ``SaganError`` (``sagan-train`` prints it as one ``error:`` line and exits with
2). The strategy is made once per ``Trainer`` and kept (``strategy``): TensorFlow allows one
cluster per process, and a second ``MirroredStrategy`` over the same devices may fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sagan_tf import cluster as clusters
from sagan_tf.config import Config
from sagan_tf.errors import SaganError
from sagan_tf.trainer import options
from sagan_tf.trainer.run_config import ConfigSource, resolve_config


class Trainer:
    """A training run in ``logdir`` from ``config`` (a built-in name, a YAML path, a ``Config``, or
    None: the run's own ``config.yaml``, to resume) with ``overrides`` (``"model.ch=32"``, as
    ``--set``).

    ``strategy``: "default" (one device), "mirrored" (all local GPUs, else the CPUs), "multiworker"
    (several processes of a ``cluster``: "tf_config", "slurm" with ``port_base`` and
    ``gpus_per_task``, or "kubernetes"), "tpu" (with ``tpu``), or a ``tf.distribute.Strategy``.
    ``data_dir``: TFDS's data directory; ``deterministic``: TensorFlow's deterministic ops (a
    process-wide switch); ``virtual_cpus``: split the CPU into that many logical devices first;
    ``verbose``: 0 quiet, 1 a progress bar; ``summary_dir``: the TensorBoard events (default
    ``logdir/train``); ``export_dir``: export the generator there when training is done;
    ``handle_signals``: stop on SIGTERM / SIGINT after the step in flight, with a checkpoint (in
    the main thread only); ``init_from``: a new run starts from the weights of this run directory or
    ``"pretrained:NAME"`` (``trainer.init_from``; ``train.init_from``). On Vertex AI ``logdir``, ``summary_dir`` and ``export_dir`` default to
    the job's ``AIP_*`` directories.
    """

    def __init__(
        self,
        config: ConfigSource = None,
        logdir: str | Path | None = None,
        *,
        overrides: Sequence[str] = (),
        strategy="default",
        cluster: str = "tf_config",
        tpu: str | None = None,
        port_base: int | None = None,
        gpus_per_task: int | None = None,
        data_dir: str | None = None,
        deterministic: bool = False,
        virtual_cpus: int = 0,
        verbose: int = 1,
        summary_dir: str | Path | None = None,
        export_dir: str | Path | None = None,
        handle_signals: bool = True,
        init_from: str | Path | None = None,
    ):
        found = options.outputs(logdir, summary_dir, export_dir, os.environ)
        options.check_placement(strategy, cluster, tpu, port_base, gpus_per_task, virtual_cpus)
        self.source = config
        self.logdir = Path(found.logdir) if found.logdir is not None else None
        self.summary_dir = Path(found.summary_dir) if found.summary_dir is not None else None
        self.export_dir = Path(found.export_dir) if found.export_dir is not None else None
        self.init_from = str(init_from) if init_from is not None else None
        self.overrides = list(overrides) + ([f"train.init_from={self.init_from}"] if self.init_from else [])
        self.strategy_name = strategy if isinstance(strategy, str) else None
        self.strategy = None if isinstance(strategy, str) else strategy  # made by the first session
        self.cluster, self.tpu, self.port_base, self.gpus_per_task = cluster, tpu, port_base, gpus_per_task
        self.data_dir, self.deterministic, self.virtual_cpus = data_dir, deterministic, virtual_cpus
        self.verbose, self.handle_signals = verbose, handle_signals
        self._devices_ready = False

    @property
    def config(self) -> Config:
        """The resolved config: ``config`` with ``overrides``, checked against the run in ``logdir``
        (a folder's ``data.num_classes: auto`` is counted when training starts)."""
        return resolve_config(self.source, self.logdir, self.overrides, count_classes=False)

    @property
    def multiworker(self) -> bool:
        """Whether several processes train together."""
        if self.strategy_name is not None:
            return self.strategy_name == "multiworker"
        from sagan_tf.cluster import distribute

        return distribute.is_multi_client(self.strategy)

    def is_chief(self) -> bool:
        """Whether this process writes the run (locks, checkpoints, events, the export); known
        before TensorFlow starts when the strategy is named."""
        if not self.multiworker:
            return True
        if self.strategy_name is not None:
            return clusters.is_chief(self.cluster, os.environ)
        from sagan_tf.cluster import distribute

        return distribute.is_chief(self.strategy)

    def train(self, steps: int | None = None):
        """Trains to ``train.steps`` (or to ``steps`` in total), resuming from the run's latest
        checkpoint; returns the trained ``SAGAN``. Raises ``errors.Stopped`` when a signal ended the
        session (after a checkpoint of its last step) and a ``SaganError`` for a user error."""
        from sagan_tf.tracking import check_trackers
        from sagan_tf.trainer.data_check import check_data, shown_on_failure
        from sagan_tf.trainer.run_directory import lock_run_dir
        from sagan_tf.trainer.session import train_session
        from sagan_tf.trainer.signals import stop_requests

        if self.logdir is None:
            raise SaganError("training needs a run directory: Trainer(config, logdir) (sagan-train --logdir)")
        from sagan_tf.trainer.init_from import check_new_run

        check_new_run(self.init_from, self.logdir)
        overrides = self.overrides + ([f"train.steps={steps}"] if steps is not None else [])
        chief = self.is_chief()  # before TensorFlow is imported or any server starts: a second trainer is refused at once
        with stop_requests(self.handle_signals) as requests, lock_run_dir(self.logdir, chief):
            if not self.multiworker:  # several workers stop together, after a step (``interrupts``)
                requests.stop_at_once()
            self._prepare_devices()
            cfg = resolve_config(self.source, self.logdir, overrides)
            if chief:
                check_trackers(cfg)
            for line in shown_on_failure(lambda: check_data(cfg, chief).warnings, sys.stderr):
                print(f"warning: {line}", file=sys.stderr)
            if self.deterministic:
                import tensorflow as tf

                tf.config.experimental.enable_op_determinism()
            strategy = self._make_strategy()
            requests.reclaim()  # a multi-worker strategy takes SIGTERM over
            options.check_batch(cfg, strategy)
            model = train_session(cfg, self.logdir, strategy, data_dir=self.data_dir, verbose=self.verbose,
                                  stop_requests=requests, summary_dir=self.summary_dir)
            if chief and self.export_dir is not None:  # the run has reached train.steps
                from sagan_tf.serving import final_export

                final_export.export_once(self.logdir, self.export_dir)
        return model

    def dry_run(self) -> str:
        """The report of ``sagan-train --dry-run``: the resolved config, the data found, the
        networks' size, the replicas and their batch; checks that the config fits the data and writes
        nothing."""
        from sagan_tf.runs import record
        from sagan_tf.trainer import dry_run
        from sagan_tf.trainer.data_check import shown_on_failure

        cfg = resolve_config(self.source, self.logdir, self.overrides)
        self._prepare_devices()
        lines = shown_on_failure(lambda: dry_run.data_report(cfg), sys.stdout, dry_run.config_report(cfg))
        strategy = self._make_strategy()
        lines += dry_run.model_report(cfg, strategy, self.strategy_name or record.strategy_name(strategy), self.logdir)
        return dry_run.config_report(cfg) + "\n".join(lines) + "\n"

    def compare_ops(self, steps: int = 10):
        """Times both forms of ``sagan_tf.ops`` on this config under this trainer's strategy and
        precision and checks that their first steps agree (``training.compare_ops``); returns the
        ``Comparison``, whose ``lines()`` say which ``model.ops`` to set. Reads no data, writes nothing."""
        from sagan_tf.trainer.precision import resolve_precision
        from sagan_tf.training.compare_ops import compare

        cfg = resolve_config(self.source, self.logdir, self.overrides, count_classes=False)
        self._prepare_devices()
        strategy = self._make_strategy()
        options.check_batch(cfg, strategy)
        resolve_precision(cfg, strategy, self.logdir)
        return compare(cfg, strategy, steps=steps)

    def _prepare_devices(self) -> None:
        """Once, before the strategy is made: this process joins its cluster (the cluster may say which
        GPUs it gets) and the CPU is split into ``virtual_cpus`` devices."""
        if self._devices_ready or self.strategy is not None:
            return
        from sagan_tf.cluster import distribute

        if self.multiworker:
            distribute.join_cluster(self.cluster, self.port_base, self.gpus_per_task)
        if self.virtual_cpus > 1:
            distribute.split_cpu(self.virtual_cpus)
        self._devices_ready = True

    def _make_strategy(self):
        if self.strategy is None:
            from sagan_tf.cluster import distribute

            self.strategy = distribute.make_strategy(self.strategy_name, self.tpu)
        return self.strategy
