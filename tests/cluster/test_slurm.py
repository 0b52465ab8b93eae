"""``sagan_tf.cluster.slurm``: a Slurm job step's task read without TensorFlow; rank 0 is the chief."""

import pytest

from sagan_tf import cluster
from sagan_tf.cluster import slurm
from sagan_tf.errors import ConfigError

STEP = {
    "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "4", "SLURM_STEP_NODELIST": "gpu[01-02]",
    "SLURM_STEP_TASKS_PER_NODE": "2(x2)", "SLURMD_NODENAME": "gpu01", "SLURM_LOCALID": "1",
}


def test_the_task_of_a_job_step():
    assert slurm.read_step(STEP) == slurm.Step(
        rank=1, tasks=4, nodelist="gpu[01-02]", tasks_per_node="2(x2)", node="gpu01", local_id=1
    )
    # Where Slurm runs the task is optional: the resolver does without it.
    bare = {k: v for k, v in STEP.items() if k not in ("SLURMD_NODENAME", "SLURM_LOCALID")}
    assert (slurm.read_step(bare).node, slurm.read_step(bare).local_id) == (None, None)


@pytest.mark.parametrize("rank, chief", [("0", True), ("1", False), ("3", False)])
def test_rank_0_is_the_chief(rank, chief):
    assert cluster.is_chief("slurm", dict(STEP, SLURM_PROCID=rank)) is chief


@pytest.mark.parametrize("missing", slurm.REQUIRED)
def test_outside_a_job_step_the_error_says_to_run_under_srun(missing):
    environ = {k: v for k, v in STEP.items() if k != missing}
    with pytest.raises(ConfigError, match=rf"needs a Slurm job step \({missing} not set\): run it under srun"):
        cluster.is_chief("slurm", environ)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"SLURM_PROCID": "4"}, "SLURM_PROCID=4 is not a task of a step of SLURM_STEP_NUM_TASKS=4 tasks"),
        ({"SLURM_PROCID": "-1"}, "SLURM_PROCID=-1 is not a task"),
        ({"SLURM_STEP_NUM_TASKS": "two"}, "SLURM_STEP_NUM_TASKS='two' is not a whole number"),
        ({"SLURM_LOCALID": "x"}, "SLURM_LOCALID='x' is not a whole number"),
    ],
)
def test_a_rank_outside_the_step_or_a_malformed_number_is_a_config_error(changes, message):
    with pytest.raises(ConfigError, match=message):
        slurm.read_step(dict(STEP, **changes))


def test_tf_config_still_decides_under_its_own_name():
    tf_config = '{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}'
    assert cluster.is_chief("tf_config", {"TF_CONFIG": tf_config}) is False
    with pytest.raises(ConfigError, match="needs the TF_CONFIG environment variable"):
        cluster.is_chief("tf_config", {})
