"""A pod of a Kubernetes Indexed Job -> this process's ``TF_CONFIG``.

``write_tf_config`` runs before TensorFlow starts its server: it reads the pod (``cluster.kubernetes``:
``JOB_COMPLETION_INDEX``, ``SAGAN_WORKERS``, ``SAGAN_WORKER_HOSTS``), checks that the pattern names
this pod (its hostname) and that this host can listen on the pod's port (``cluster.ports``), and sets
``TF_CONFIG`` to N workers, worker ``JOB_COMPLETION_INDEX`` being this one, as
``MultiWorkerMirroredStrategy`` reads it under ``--cluster tf_config``. A ``TF_CONFIG`` already in
the pod's environment is replaced. Each check that fails is one ``ConfigError`` line.

GPUs are left alone: a pod sees the GPUs Kubernetes gave its container (``nvidia.com/gpu``) and
trains one replica on each.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import MutableMapping

from sagan_tf.cluster import kubernetes, ports
from sagan_tf.errors import ConfigError


def write_tf_config(environ: MutableMapping[str, str] = os.environ, hostname: str | None = None) -> dict:
    """Sets ``TF_CONFIG`` in ``environ`` for the pod it describes (``hostname``: this pod's, default
    the host's name); returns the ``TF_CONFIG`` written."""
    pod = kubernetes.read_pod(environ)
    kubernetes.check_own_host(pod, socket.gethostname() if hostname is None else hostname)
    why = ports.problem(pod.port)
    if why is not None:
        raise ConfigError(
            f"--cluster kubernetes: worker {pod.index} listens on port {pod.port} ({kubernetes.HOSTS}), {why} on this "
            f"host; give the workers another port in {kubernetes.HOSTS}"
        )
    tf_config = pod.tf_config()
    environ["TF_CONFIG"] = json.dumps(tf_config)
    return tf_config
