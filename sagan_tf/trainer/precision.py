"""The precision a session trains in: ``train.precision: auto`` decided for the devices of the strategy.

``auto`` picks ``mixed_bfloat16`` where the hardware runs bfloat16 fast and float32 elsewhere
(``sagan_tf.training.precision.resolve``), under ``multiworker`` once for the whole cluster
(``cluster_choice``), and says so in one line; a second line says when the run's last session
trained in another precision. The run's ``config.yaml`` keeps ``auto``: it is decided again on
every start.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sagan_tf.config import Config


def resolve_precision(cfg: Config, strategy, logdir: Path | None = None, cpu_flags: set[str] | None = None) -> str:
    """Sets ``cfg.train.precision`` to the policy for the devices ``strategy`` computes on, said in
    one line, with a second line when the run in ``logdir`` last trained in another; returns the
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
