"""Which cluster a ``--strategy multiworker`` process belongs to, and whether it is the chief, read
without TensorFlow (``--cluster``).

* ``tf_config``: the ``TF_CONFIG`` environment variable describes the cluster and this process's
  task (``tf_config``).
* ``slurm``: the Slurm job step does (``slurm``): every task of an ``srun`` is one worker, and the
  task of rank 0 (``SLURM_PROCID``) is the chief. ``sagan_tf.cluster.slurm_tf_config`` turns the step into
  this process's ``TF_CONFIG`` once TensorFlow is imported.
* ``kubernetes``: the pod of a Kubernetes Indexed Job does (``kubernetes``): every pod is one worker,
  the pod of completion index 0 is the chief, and the manifest names the worker count and addresses.
  ``sagan_tf.cluster.kubernetes_tf_config`` writes this pod's ``TF_CONFIG`` from them.

Kubeflow's TFJob and Vertex AI set ``TF_CONFIG`` themselves (``tf_config``); ``vertex`` reads where a
Vertex AI job wants the run's outputs (``AIP_*``), whatever the strategy.

The trainer asks ``is_chief`` before TensorFlow is imported: only the chief locks and writes the
run directory. Another source of cluster descriptions is one more name in ``CLUSTERS``, a module
here that answers ``is_chief`` from the environment, and one in ``sagan_tf.training`` that writes
``TF_CONFIG`` from it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sagan_tf.cluster import kubernetes, slurm
from sagan_tf.cluster.tf_config import is_chief_process, is_chief_task, read_tf_config, task_address

CLUSTERS = ("tf_config", "slurm", "kubernetes")  # --cluster

__all__ = ["CLUSTERS", "is_chief", "is_chief_process", "is_chief_task", "read_tf_config", "task_address"]


def is_chief(kind: str, environ: Mapping[str, str]) -> bool:
    """Whether this process, described by ``environ`` as a task of a ``kind`` cluster, is the chief;
    a ``ConfigError`` naming what is missing when ``environ`` describes no such task."""
    if kind == "tf_config":
        return is_chief_process(read_tf_config(environ.get("TF_CONFIG")))
    if kind == "slurm":
        return slurm.read_step(environ).rank == 0
    if kind == "kubernetes":
        return kubernetes.is_chief(environ)
    raise ValueError(f"unknown cluster {kind!r} (one of {', '.join(CLUSTERS)})")
