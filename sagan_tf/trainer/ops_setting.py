"""The forms of the ops a session runs: ``model.ops: auto`` decided for the devices of the strategy.

``auto`` runs the fast forms of ``sagan_tf.ops`` on CPUs, where they were measured faster, and the
reference forms on GPUs and TPUs, where they have not been measured (``ops_choice.choose``); the
session says which in one line and ``training.json`` keeps it per session. The run's
``config.yaml`` keeps ``auto``: it is decided again on every start, and a resumed run may run other
forms (the same function with the same variables). ``sagan-train --compare-ops`` times both forms.
"""

from __future__ import annotations

import sys

from sagan_tf import ops_choice
from sagan_tf.config import Config


def resolve_ops(cfg: Config, strategy) -> str:
    """Sets ``cfg.model.ops`` to the forms for the devices ``strategy`` computes on, said in one line
    when ``auto`` decided them; returns the requested setting, which ``config.yaml`` keeps."""
    import tensorflow as tf

    from sagan_tf.training.precision import strategy_gpus

    requested = cfg.model.ops
    tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    gpus = not tpu and bool(tf.config.list_logical_devices("GPU")) and bool(strategy_gpus(strategy))
    choice, reason = ops_choice.resolve(requested, tpu=tpu, gpus=gpus)
    cfg.model.ops = str(choice)
    if reason is not None:
        print(f"ops {requested}: {choice} forms of the ops ({reason})", file=sys.stderr)
    return requested
