"""A Slurm job step read without TensorFlow: this task's rank, the step's tasks and nodes.

``srun`` gives every task of a job step its ``SLURM_*`` variables. The step's tasks are the
workers of one ``MultiWorkerMirroredStrategy`` run, numbered by ``SLURM_PROCID`` (the rank): the
task of rank 0 is the chief, the only one that locks and writes the run directory. The node list and
tasks per node are left to TensorFlow's ``SlurmClusterResolver`` (``sagan_tf.cluster.slurm_tf_config``),
which expands them; here they are only required to be there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from sagan_tf.errors import ConfigError

# What TensorFlow's SlurmClusterResolver reads (the rank, the step's task count, its nodes and how
# many tasks each runs); srun sets them for every task of a job step, sbatch alone does not.
REQUIRED = ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_STEP_NODELIST", "SLURM_STEP_TASKS_PER_NODE")


@dataclasses.dataclass(frozen=True)
class Step:
    """This task of a Slurm job step.

    ``rank``: ``SLURM_PROCID``, 0 .. ``tasks`` - 1; ``tasks``: ``SLURM_STEP_NUM_TASKS``;
    ``nodelist`` and ``tasks_per_node``: Slurm's compressed forms (``node[01-04]``, ``2(x4)``);
    ``node`` (``SLURMD_NODENAME``) and ``local_id`` (``SLURM_LOCALID``, the task's number on its
    node): where Slurm runs this task, when Slurm says so (None otherwise).
    """

    rank: int
    tasks: int
    nodelist: str
    tasks_per_node: str
    node: str | None = None
    local_id: int | None = None


def _integer(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"--cluster slurm: {name}={raw!r} is not a whole number") from None


def read_step(environ: Mapping[str, str]) -> Step:
    """The task ``environ`` describes; a ``ConfigError`` outside a job step (a variable missing: run
    the trainer under ``srun``) or when the rank is not one of the step's tasks."""
    missing = [name for name in REQUIRED if not environ.get(name)]
    if missing:
        raise ConfigError(
            f"--cluster slurm needs a Slurm job step ({', '.join(missing)} not set): run it under srun, "
            "e.g. srun sagan-train --strategy multiworker --cluster slurm ..."
        )
    rank, tasks = _integer(environ, "SLURM_PROCID"), _integer(environ, "SLURM_STEP_NUM_TASKS")
    if tasks < 1 or not 0 <= rank < tasks:
        raise ConfigError(
            f"--cluster slurm: SLURM_PROCID={rank} is not a task of a step of SLURM_STEP_NUM_TASKS={tasks} tasks"
        )
    return Step(
        rank=rank, tasks=tasks, nodelist=environ["SLURM_STEP_NODELIST"],
        tasks_per_node=environ["SLURM_STEP_TASKS_PER_NODE"], node=environ.get("SLURMD_NODENAME") or None,
        local_id=_integer(environ, "SLURM_LOCALID"),
    )
