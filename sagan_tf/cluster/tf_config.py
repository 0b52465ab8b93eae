"""``TF_CONFIG`` read without TensorFlow: the cluster, this process's task, and whether it is the chief.

The trainer decides from it, before TensorFlow starts its server, whether this process is the one
that writes into (and locks) the run directory. ``sagan_tf.cluster.distribute`` uses the same rule
for the strategy's own cluster resolver.
"""

from __future__ import annotations

import json

from sagan_tf.errors import ConfigError

EXAMPLE = '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'
TASKS = ("chief", "worker")  # the task types MultiWorkerMirroredStrategy runs


def read_tf_config(raw: str | None) -> dict:
    """The parsed ``TF_CONFIG``; a ``ConfigError`` when it is missing, not of the expected form, or
    describes a task this trainer does not run.

    The cluster has ``worker`` tasks, a ``chief`` task, or both (Kubeflow's TFJob and Vertex AI name
    their first pool ``chief``), each a list of ``host:port``; this process's task is one of them.
    Parameter servers and evaluators (``ps``, ``evaluator``, ``master``) are refused: the strategy
    trains with chief and workers only.
    """
    if not raw:
        raise ConfigError("--strategy multiworker needs the TF_CONFIG environment variable (cluster and task)")
    try:
        spec = json.loads(raw)
        jobs, task = spec["cluster"], spec["task"]
        task_type, index = task["type"], int(task["index"])
        valid = (
            isinstance(jobs, dict)
            and any(jobs.get(name) for name in TASKS)
            and all(isinstance(v, list) and v and all(isinstance(a, str) for a in v) for v in jobs.values())
        )
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise ConfigError(f"TF_CONFIG must be JSON like {EXAMPLE}")
    others = sorted(set(jobs) - set(TASKS)) + ([task_type] if task_type not in TASKS and task_type not in jobs else [])
    if others:
        raise ConfigError(
            f"TF_CONFIG has {' and '.join(repr(o) for o in others)} tasks, but sagan-train runs chief and worker tasks only "
            "(MultiWorkerMirroredStrategy): remove them (TFJob: the PS and Evaluator replicas; Vertex AI: worker pools 3 and 4)"
        )
    if not 0 <= index < len(jobs.get(task_type, [])):
        raise ConfigError(
            f"TF_CONFIG: this process is task {task_type} {index}, which is not in its cluster "
            f"({', '.join(f'{len(v)} {k}' for k, v in sorted(jobs.items()))})"
        )
    return spec


def task_address(tf_config: dict) -> str:
    """The ``host:port`` this process's task listens on."""
    task = tf_config["task"]
    return tf_config["cluster"][task["type"]][int(task["index"])]


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
    return is_chief_task(tf_config["cluster"], task["type"], int(task["index"]))
