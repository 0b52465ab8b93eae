"""A Slurm job step -> this process's ``TF_CONFIG``, through TensorFlow's ``SlurmClusterResolver``.

``write_tf_config`` runs before TensorFlow initializes its devices. The resolver expands the step's
node list and tasks per node, numbers the tasks block-wise over the nodes (the nodes in sorted name
order, the tasks of a node at ``port_base``, ``port_base + 1``, ...) and, on nodes with GPUs, gives
each task its share of them by setting ``CUDA_VISIBLE_DEVICES``. Its cluster and this task become
``TF_CONFIG``, which ``MultiWorkerMirroredStrategy`` reads as under ``--cluster tf_config``, so the
strategy counts the GPUs it actually sees (a strategy given the resolver itself would place a
replica on a GPU it was told of, also on a node without any).

Checked first, each a ``ConfigError`` of one line: the step's variables (``cluster.slurm``), its task
counts (the resolver's), that the resolver puts this task where Slurm runs it (node and local
number, when Slurm names them: the resolver assumes ``--distribution=block`` and nodes whose names
sort in Slurm's order), and that this host can listen on the task's port (``cluster.ports``).

GPUs: ``gpus_per_task`` None shares the node's GPUs (``CUDA_VISIBLE_DEVICES``, else
``nvidia-smi``) evenly among its tasks; 0, or a node without GPUs, leaves ``CUDA_VISIBLE_DEVICES``
as Slurm set it (the resolver is then told of one unused slot per task).
"""

from __future__ import annotations

import json
import os

from tensorflow.python.distribute.cluster_resolver import slurm_cluster_resolver as tf_slurm

from sagan_tf.cluster import ports
from sagan_tf.cluster import slurm as slurm_step
from sagan_tf.errors import ConfigError

DEFAULT_PORT_BASE = 8888  # SlurmClusterResolver's


def node_gpus() -> int:
    """The GPUs of this node as the resolver counts them (``CUDA_VISIBLE_DEVICES``, else
    ``nvidia-smi``); 0 where neither names any."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        return 0
    try:
        return tf_slurm.get_num_gpus()
    except (OSError, RuntimeError):  # no nvidia-smi, or it failed: no GPUs to hand out
        return 0


def make_resolver(step: slurm_step.Step, port_base: int, gpus_per_task: int | None, gpus: int):
    """The ``SlurmClusterResolver`` of ``step`` on a node with ``gpus`` GPUs."""
    try:
        most_tasks = max(tf_slurm.expand_tasks_per_node(step.tasks_per_node))
        if gpus == 0 or gpus_per_task == 0:
            return tf_slurm.SlurmClusterResolver(
                port_base=port_base, gpus_per_node=most_tasks, gpus_per_task=1, auto_set_gpu=False
            )
        share = gpus // most_tasks if gpus_per_task is None else gpus_per_task
        if share < 1:
            raise ConfigError(
                f"--cluster slurm: {most_tasks} tasks on a node share its {gpus} GPU(s); run at most {gpus} tasks per "
                "node, or --gpus-per-task 0 to keep the CUDA_VISIBLE_DEVICES Slurm gives each task"
            )
        return tf_slurm.SlurmClusterResolver(port_base=port_base, gpus_per_node=gpus, gpus_per_task=share)
    except (ValueError, RuntimeError) as e:
        detail = str(e).strip().splitlines()[0].rstrip(".")
        if "GPUs per node" in detail:
            detail += f" ({gpus} GPU(s) on this node; see --gpus-per-task)"
        raise ConfigError(
            f"--cluster slurm: the job step does not add up (SLURM_STEP_NODELIST={step.nodelist}, "
            f"SLURM_STEP_TASKS_PER_NODE={step.tasks_per_node}, SLURM_STEP_NUM_TASKS={step.tasks}): {detail}"
        ) from None


def check_placement(step: slurm_step.Step, address: str, port_base: int) -> None:
    """The resolver's ``host:port`` for this task is on the node where Slurm runs it, at its local number."""
    host, port = address.rsplit(":", 1)
    expected = []
    if step.node is not None and step.node != host:
        expected.append(f"on {step.node}")
    if step.local_id is not None and int(port) != port_base + step.local_id:
        expected.append(f"as local task {step.local_id} (port {port_base + step.local_id})")
    if expected:
        raise ConfigError(
            f"--cluster slurm: TensorFlow's SlurmClusterResolver puts task {step.rank} at {address}, but Slurm runs it "
            f"{' '.join(expected)}: the resolver numbers tasks block-wise over the nodes in sorted name order; "
            "run srun with --distribution=block on nodes whose names sort in Slurm's order (or use --cluster tf_config)"
        )


def write_tf_config(port_base: int = DEFAULT_PORT_BASE, gpus_per_task: int | None = None) -> dict:
    """Sets ``TF_CONFIG`` (and, with GPUs, ``CUDA_VISIBLE_DEVICES``) in ``os.environ``, where the
    resolver reads the job step, for this task of the step; returns the ``TF_CONFIG`` written."""
    step = slurm_step.read_step(os.environ)
    if gpus_per_task is not None and gpus_per_task < 0:
        raise ConfigError(f"--gpus-per-task must be 0 or more, got {gpus_per_task}")
    resolver = make_resolver(step, port_base, gpus_per_task, node_gpus())
    spec = resolver.cluster_spec().as_dict()
    task_type, task_id = resolver.get_task_info()
    address = spec[task_type][task_id]
    check_placement(step, address, port_base)
    port = int(address.rsplit(":", 1)[1])
    why = ports.problem(port)
    if why is not None:
        raise ConfigError(
            f"--cluster slurm: task {step.rank} listens on port {port} (--port-base {port_base} + its local number "
            f"{port - port_base}), {why} on this host; choose a free range with --port-base"
        )
    tf_config = {"cluster": spec, "task": {"type": task_type, "index": task_id}}
    os.environ["TF_CONFIG"] = json.dumps(tf_config)
    return tf_config
