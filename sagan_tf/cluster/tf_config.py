"""``TF_CONFIG`` read without TensorFlow: the cluster, this process's task, and whether it is the chief.

The trainer decides from it, before TensorFlow starts its server, whether this process is the one
that writes into (and locks) the run directory. ``sagan_tf.training.distribute`` uses the same rule
for the strategy's own cluster resolver.
"""

from __future__ import annotations

import json

from sagan_tf.errors import ConfigError

EXAMPLE = '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'


def read_tf_config(raw: str | None) -> dict:
    """The parsed ``TF_CONFIG``; a ``ConfigError`` when it is missing or not of the expected form."""
    if not raw:
        raise ConfigError("--strategy multiworker needs the TF_CONFIG environment variable (cluster and task)")
    try:
        spec = json.loads(raw)
        workers, task = spec["cluster"]["worker"], spec["task"]
        valid = isinstance(workers, list) and bool(workers) and "type" in task and "index" in task
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise ConfigError(f"TF_CONFIG must be JSON like {EXAMPLE}")
    return spec


def is_chief_task(cluster: dict, task_type: str | None, task_id: int | None) -> bool:
    """TensorFlow's rule: the ``chief`` task if the cluster has one, else worker 0 (a process without
    a task, i.e. not in a cluster, is its own chief)."""
    if task_type is None:
        return True
    if "chief" in cluster:
        return task_type == "chief"
    return task_type == "worker" and int(task_id or 0) == 0


def is_chief_process(tf_config: dict) -> bool:
    task = tf_config["task"]
    return is_chief_task(tf_config["cluster"], task["type"], task["index"])
