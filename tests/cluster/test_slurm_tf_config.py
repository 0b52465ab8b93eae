"""``--cluster slurm``: a Slurm job step becomes this task's TF_CONFIG through TensorFlow's
``SlurmClusterResolver`` (``sagan_tf.cluster.slurm_tf_config``); two tasks of a faked one-node step on
127.0.0.1 train together; a step that does not add up stops with one line."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from sagan_tf.cluster import slurm_tf_config as slurm
from sagan_tf.errors import ConfigError
from tests.helpers import REPO
from tests.helpers.cli import free_port_base, run_cli, slurm_step, train_args
from tests.training.test_multiworker import start_workers, wait_all

SLURM_NAMES = ("SLURM_", "SLURMD_", "TF_CONFIG", "CUDA_VISIBLE_DEVICES")


@pytest.fixture
def step_env(monkeypatch):
    """Sets the Slurm variables of a job step in ``os.environ`` (where the resolver reads them);
    the process's environment is restored afterwards, also what the resolver wrote."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(SLURM_NAMES):
            del os.environ[name]

    def set_step(**variables):
        os.environ.update({k: str(v) for k, v in variables.items()})

    yield set_step
    os.environ.clear()
    os.environ.update(saved)


def two_nodes(rank, node, local_id, **changes):
    """Task ``rank`` of a step of 4 tasks, 2 on each of gpu01 and gpu02."""
    return dict(
        SLURM_PROCID=rank, SLURM_STEP_NUM_TASKS=4, SLURM_STEP_NODELIST="gpu[01-02]", SLURM_STEP_TASKS_PER_NODE="2(x2)",
        SLURMD_NODENAME=node, SLURM_LOCALID=local_id, **changes,
    )


def test_a_cpu_task_gets_its_tf_config_and_keeps_its_devices(step_env):
    base = free_port_base(2)
    step_env(**slurm_step(1))
    written = slurm.write_tf_config(base)
    expected = {"cluster": {"worker": [f"127.0.0.1:{base}", f"127.0.0.1:{base + 1}"]}, "task": {"type": "worker", "index": 1}}
    assert written == expected and json.loads(os.environ["TF_CONFIG"]) == expected
    assert "CUDA_VISIBLE_DEVICES" not in os.environ  # no GPUs named on this node: nothing to hand out


@pytest.mark.parametrize("gpus_per_task, visible", [(None, "2,3"), (1, "1"), (0, "0,1,2,3")])
def test_the_gpus_of_a_node_are_shared_by_its_tasks(step_env, gpus_per_task, visible):
    """4 GPUs, 2 tasks per node: task 3 (the second on gpu02) gets GPUs 2 and 3; with one GPU per
    task its second one; with 0 it keeps what Slurm gave it."""
    base = free_port_base(2)
    step_env(CUDA_VISIBLE_DEVICES="0,1,2,3", **two_nodes(3, "gpu02", 1))
    written = slurm.write_tf_config(base, gpus_per_task)
    hosts = [f"gpu01:{base}", f"gpu01:{base + 1}", f"gpu02:{base}", f"gpu02:{base + 1}"]
    assert written == {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": 3}}
    assert os.environ["CUDA_VISIBLE_DEVICES"] == visible


def test_nodes_whose_names_do_not_sort_in_slurms_order_are_refused(step_env):
    """node[9-10]: Slurm runs task 0 on node9, the resolver sorts node10 first and would put task 0
    there (each worker would then serve at another's address)."""
    step_env(SLURM_PROCID=0, SLURM_STEP_NUM_TASKS=2, SLURM_STEP_NODELIST="node[9-10]", SLURM_STEP_TASKS_PER_NODE="1(x2)",
             SLURMD_NODENAME="node9", SLURM_LOCALID=0)
    with pytest.raises(ConfigError, match=r"puts task 0 at node10:\d+, but Slurm runs it on node9: .*--distribution=block"):
        slurm.write_tf_config(free_port_base(1))
    assert "TF_CONFIG" not in os.environ


def test_a_cyclic_distribution_is_refused(step_env):
    """srun --distribution=cyclic puts rank 1 on the second node; the resolver expects it on the first."""
    step_env(**two_nodes(1, "gpu02", 0))
    with pytest.raises(ConfigError, match=r"puts task 1 at gpu01:(\d+), but Slurm runs it on gpu02 as local task 0"):
        slurm.write_tf_config(free_port_base(2), 0)


@pytest.mark.parametrize(
    "changes, gpus_per_task, message",
    [
        ({"SLURM_STEP_NUM_TASKS": 3, "SLURM_PROCID": 0}, None,
         r"the job step does not add up \(SLURM_STEP_NODELIST=gpu\[01-02\], SLURM_STEP_TASKS_PER_NODE=2\(x2\), "
         r"SLURM_STEP_NUM_TASKS=3\): Requested 3 tasks but only 4 were assigned"),
        ({"SLURM_STEP_NODELIST": "gpu[01-"}, None, r"does not add up .*Invalid hostlist format"),
        ({"SLURM_STEP_TASKS_PER_NODE": "2x2"}, None, r"does not add up .*Invalid tasks-per-node list format"),
        ({}, 3, r"Requested more GPUs per node than available \(4 GPU\(s\) on this node; see --gpus-per-task\)"),
        ({"CUDA_VISIBLE_DEVICES": "0"}, None, r"2 tasks on a node share its 1 GPU\(s\); .*--gpus-per-task 0"),
        ({}, -1, r"--gpus-per-task must be 0 or more, got -1"),
    ],
)
def test_a_step_that_does_not_add_up_is_one_config_error(step_env, changes, gpus_per_task, message):
    step_env(**dict(dict(CUDA_VISIBLE_DEVICES="0,1,2,3", **two_nodes(3, "gpu02", 1)), **changes))
    with pytest.raises(ConfigError, match=message):
        slurm.write_tf_config(free_port_base(2), gpus_per_task)


def test_a_port_in_use_is_named_with_the_flag_that_moves_it(step_env):
    base = free_port_base(2)
    step_env(**slurm_step(1))
    with socket.socket() as other:
        other.bind(("127.0.0.1", base + 1))
        other.listen()
        with pytest.raises(ConfigError) as raised:
            slurm.write_tf_config(base)
    assert str(raised.value) == (
        f"--cluster slurm: task 1 listens on port {base + 1} (--port-base {base} + its local number 1), "
        "in use by another process on this host; choose a free range with --port-base"
    )


@pytest.mark.slow  # identical weights: test_multiworker.py; the Slurm cluster: the srun test below
def test_two_tasks_of_a_job_step_train_together_with_identical_weights(tmp_path, tfds_dir):
    """The helper's workers get only the Slurm variables (no TF_CONFIG): the resolver makes the cluster."""
    logdirs = [tmp_path / "chief_run", tmp_path / "task1_run"]
    outs = [tmp_path / "t0.npz", tmp_path / "t1.npz"]
    base = free_port_base(2)
    procs = start_workers(logdirs, outs, 4, tfds_dir, cluster=f"slurm:{base}", envs=[slurm_step(0), slurm_step(1)])
    for code, err in wait_all(procs):
        assert code == 0, err[-3000:]
    t0, t1 = np.load(outs[0]), np.load(outs[1])
    assert int(t0["__replicas__"]) == 2 and int(t0["__step__"]) == int(t1["__step__"]) == 4
    assert len(t0.files) > 100 and t0.files == t1.files
    for name in t0.files:
        np.testing.assert_array_equal(t0[name], t1[name], err_msg=name)
    assert (logdirs[0] / "checkpoints").is_dir() and not logdirs[1].exists()  # task 0 is the chief


STAND_IN_SCONTROL = """#!/bin/sh
# Slurm's scontrol as far as a job step needs it: 'scontrol show hostnames LIST' (a one-node list here).
echo "$@" >> "$(dirname "$0")/scontrol.calls"
if [ "$1 $2" = "show hostnames" ]; then echo "$3"; else exit 1; fi
"""


def stand_in_scontrol(directory) -> str:
    """A directory holding a stand-in ``scontrol`` that answers and records its calls (``scontrol.calls``)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "scontrol").write_text(STAND_IN_SCONTROL)
    (directory / "scontrol").chmod(0o755)
    return str(directory)


def srun(logdir, steps, base, tfds_dir, *extra, tasks=2):
    """``srun --ntasks=2 sagan-train ... --cluster slurm``, faked: one process per task on this host,
    with a stand-in ``scontrol`` on ``PATH`` as on a Slurm node."""
    procs = []
    bin_dir = stand_in_scontrol(logdir.parent / "slurm_bin")
    for rank in range(tasks):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TFDS_DATA_DIR=tfds_dir, **slurm_step(rank, tasks))
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        env.pop("TF_CONFIG", None)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "sagan_tf.train", *train_args(logdir, steps, *extra),
             "--strategy", "multiworker", "--cluster", "slurm", "--port-base", str(base)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    return wait_all(procs)


def assert_two_workers_trained_one_run(results, run, steps):
    """Both workers exited 0 after one final line at ``steps`` with the same losses (reduced over
    both), and ``run`` holds one run of two replicas, written by the chief."""
    for code, err in results:
        assert code == 0 and "Traceback" not in err, err[-3000:]
    finals = [[line for line in err.splitlines() if line.startswith("step ")] for _, err in results]
    assert [len(lines) for lines in finals] == [1, 1]
    assert finals[0][0].startswith(f"step {steps}: ") and finals[1][0].startswith(f"step {steps}: ")
    assert finals[0][0].split(";")[0] == finals[1][0].split(";")[0]
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml", "train", "training.json"]
    (session,) = json.loads((run / "training.json").read_text())["sessions"]
    assert session["replicas"] == 2 and session["strategy"] == "multiworker"
    assert (session["start_step"], session["end_step"]) == (0, steps)


def test_sagan_train_under_a_job_step_trains_one_run_written_by_task_0(tmp_path, tfds_dir):
    run = tmp_path / "run"
    assert_two_workers_trained_one_run(srun(run, 4, free_port_base(2), tfds_dir), run, 4)
    # TensorFlow's SlurmClusterResolver expands the node list itself: scontrol is on PATH but unused.
    assert not (tmp_path / "slurm_bin" / "scontrol.calls").exists()


def one_error_line(result) -> str:
    """The one ``error:`` line of a trainer that exited with 2, the last it wrote (TensorFlow's own
    start-up log lines may come before it)."""
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], result.stderr[-3000:]
    return lines[-1]


def trainer(logdir, *extra, env, tfds_dir):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(SLURM_NAMES)}
    return subprocess.run(
        [sys.executable, "-m", "sagan_tf.train", *train_args(logdir, 2), "--strategy", "multiworker", "--cluster", "slurm", *extra],
        cwd=REPO, env=dict(clean, TF_CPP_MIN_LOG_LEVEL="3", TFDS_DATA_DIR=tfds_dir, **env),
        capture_output=True, text=True, timeout=300,
    )


def test_outside_a_job_step_the_trainer_says_to_run_it_under_srun(tmp_path, tfds_dir):
    run = tmp_path / "run"
    line = one_error_line(trainer(run, env={}, tfds_dir=tfds_dir))
    assert line == (
        "error: --cluster slurm needs a Slurm job step (SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_STEP_NODELIST, "
        "SLURM_STEP_TASKS_PER_NODE not set): run it under srun, e.g. srun sagan-train --strategy multiworker --cluster slurm ..."
    )
    assert not run.exists()


def test_the_chief_stops_with_one_line_when_its_port_is_taken_and_writes_nothing(tmp_path, tfds_dir):
    run, base = tmp_path / "run", free_port_base(2)
    with socket.socket() as other:
        other.bind(("0.0.0.0", base))
        other.listen()
        result = trainer(run, "--port-base", str(base), env=slurm_step(0), tfds_dir=tfds_dir)
    assert one_error_line(result) == (
        f"error: --cluster slurm: task 0 listens on port {base} (--port-base {base} + its local number 0), "
        "in use by another process on this host; choose a free range with --port-base"
    )
    assert not run.exists() or not any(p.name != "trainer.lock" for p in run.iterdir())


def test_inconsistent_task_counts_stop_with_one_line(tmp_path, tfds_dir):
    env = dict(slurm_step(0), SLURM_STEP_NUM_TASKS="3")
    line = one_error_line(trainer(tmp_path / "run", "--port-base", str(free_port_base(2)), env=env, tfds_dir=tfds_dir))
    assert line == (
        "error: --cluster slurm: the job step does not add up (SLURM_STEP_NODELIST=127.0.0.1, "
        "SLURM_STEP_TASKS_PER_NODE=2, SLURM_STEP_NUM_TASKS=3): Requested 3 tasks but only 2 were assigned"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--cluster", "slurm"], "error: --cluster slurm needs --strategy multiworker (see sagan-train --help)"),
        (["--strategy", "multiworker", "--port-base", "9000"], "error: --port-base needs --cluster slurm (see sagan-train --help)"),
    ],
)
def test_slurm_flags_outside_their_mode_are_usage_errors(tmp_path, args, message):
    result = run_cli("sagan_tf.train", "--config", "fashion_mnist32", "--logdir", str(tmp_path / "run"), *args)
    assert one_error_line(result) == message
