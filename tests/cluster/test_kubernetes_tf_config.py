"""``--cluster kubernetes``: the pod of an Indexed Job becomes this worker's TF_CONFIG
(``sagan_tf.cluster.kubernetes_tf_config``); two pods of a faked Job on 127.0.0.1 train together; a pod whose
description is wrong stops with one line."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from sagan_tf.cluster import kubernetes_tf_config as kubernetes
from sagan_tf.errors import ConfigError
from tests.cluster.test_slurm_tf_config import assert_two_workers_trained_one_run, one_error_line
from tests.helpers import REPO
from tests.helpers.cli import free_ports, run_cli, train_args
from tests.training.test_multiworker import start_workers, wait_all

POD_NAMES = ("JOB_COMPLETION_INDEX", "SAGAN_", "TF_CONFIG")


def indexed_job(index, ports, workers=None):
    """What the manifest and Kubernetes give pod ``index`` of a Job whose workers listen on 127.0.0.1
    at ``ports`` (one port each: all pods share this host)."""
    return {
        "JOB_COMPLETION_INDEX": str(index),
        "SAGAN_WORKERS": str(len(ports) if workers is None else workers),
        "SAGAN_WORKER_HOSTS": ",".join(f"127.0.0.1:{p}" for p in ports),
    }


def test_a_pod_gets_its_tf_config():
    ports = free_ports(2)
    environ = indexed_job(1, ports)
    written = kubernetes.write_tf_config(environ, hostname="sagan-train-1")
    expected = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": 1}}
    assert written == expected and json.loads(environ["TF_CONFIG"]) == expected


def test_a_tf_config_already_in_the_pod_is_replaced():
    ports = free_ports(2)
    environ = dict(indexed_job(0, ports), TF_CONFIG='{"cluster": {"worker": ["elsewhere:1"]}}')
    kubernetes.write_tf_config(environ, hostname="x")
    assert json.loads(environ["TF_CONFIG"])["cluster"] == {"worker": [f"127.0.0.1:{p}" for p in ports]}


def test_a_pattern_that_does_not_name_the_pod_is_refused_before_anything_is_written():
    environ = {"JOB_COMPLETION_INDEX": "0", "SAGAN_WORKERS": "2", "SAGAN_WORKER_HOSTS": "sagan-train-{index}.sagan-train"}
    with pytest.raises(ConfigError, match=r"puts worker 0 at sagan-train-0.sagan-train:2222, but this pod's hostname is other-0"):
        kubernetes.write_tf_config(environ, hostname="other-0")
    assert "TF_CONFIG" not in environ


def test_a_port_in_use_is_named_with_the_variable_that_moves_it():
    ports = free_ports(2)
    with socket.socket() as other:
        other.bind(("127.0.0.1", ports[1]))
        other.listen()
        with pytest.raises(ConfigError) as raised:
            kubernetes.write_tf_config(indexed_job(1, ports), hostname="x")
    assert str(raised.value) == (
        f"--cluster kubernetes: worker 1 listens on port {ports[1]} (SAGAN_WORKER_HOSTS), in use by another process "
        "on this host; give the workers another port in SAGAN_WORKER_HOSTS"
    )


def pods(logdir, steps, ports, tfds_dir, *extra):
    """The Job's two pods, faked: one ``sagan-train --cluster kubernetes`` process per index on this host."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(POD_NAMES)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "sagan_tf.train", *train_args(logdir, steps, *extra),
             "--strategy", "multiworker", "--cluster", "kubernetes"],
            cwd=REPO, env=dict(clean, TF_CPP_MIN_LOG_LEVEL="3", TFDS_DATA_DIR=tfds_dir, **indexed_job(i, ports)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(len(ports))
    ]
    return wait_all(procs)


def test_two_pods_of_an_indexed_job_train_one_run_written_by_index_0(tmp_path, tfds_dir):
    run = tmp_path / "run"
    assert_two_workers_trained_one_run(pods(run, 4, free_ports(2), tfds_dir), run, 4)


@pytest.mark.slow  # identical weights and the cluster-wide precision: test_multiworker.py; --cluster kubernetes: above
def test_pods_hold_identical_weights_and_agree_on_auto_precision(tmp_path, tfds_dir):
    """Pod 1's CPU has AVX512-BF16, pod 0's has neither it nor AMX-BF16: both train in float32 (the
    cluster's choice, through --cluster kubernetes), end at the same step with bitwise equal weights,
    and pod 1, given a run directory of its own, writes nothing there."""
    logdirs = [tmp_path / "pod0_run", tmp_path / "pod1_run"]
    outs = [tmp_path / "p0.npz", tmp_path / "p1.npz"]
    ports = free_ports(2)
    procs = start_workers(logdirs, outs, 2, tfds_dir, "train.precision=auto", cluster="kubernetes",
                          cpu_flags=[["avx2"], ["avx2", "avx512_bf16"]], envs=[indexed_job(0, ports), indexed_job(1, ports)])
    (code0, err0), (code1, err1) = wait_all(procs)
    assert code0 == 0 and code1 == 0, (err0[-3000:], err1[-3000:])
    assert [line for line in err1.splitlines() if line.startswith("precision auto")] == [
        "precision auto: float32 (the cluster's choice: 1 of its 2 replicas run on hardware without fast bfloat16; "
        "this worker alone would train in mixed_bfloat16: CPU with AVX512-BF16)"
    ]
    p0, p1 = np.load(outs[0]), np.load(outs[1])
    assert str(p0["__policy__"]) == str(p1["__policy__"]) == "float32"
    assert int(p0["__replicas__"]) == 2 and int(p0["__step__"]) == int(p1["__step__"]) == 2
    assert len(p0.files) > 100 and p0.files == p1.files
    for name in p0.files:
        np.testing.assert_array_equal(p0[name], p1[name], err_msg=name)
    assert (logdirs[0] / "checkpoints").is_dir() and not logdirs[1].exists()


def trainer(logdir, env, tfds_dir):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(POD_NAMES)}
    return subprocess.run(
        [sys.executable, "-m", "sagan_tf.train", *train_args(logdir, 2), "--strategy", "multiworker", "--cluster", "kubernetes"],
        cwd=REPO, env=dict(clean, TF_CPP_MIN_LOG_LEVEL="3", TFDS_DATA_DIR=tfds_dir, **env),
        capture_output=True, text=True, timeout=300,
    )


def test_outside_an_indexed_job_the_trainer_names_what_is_missing_and_writes_nothing(tmp_path, tfds_dir):
    run = tmp_path / "run"
    line = one_error_line(trainer(run, {"SAGAN_WORKERS": "2", "SAGAN_WORKER_HOSTS": "w-{index}.svc"}, tfds_dir))
    assert line == (
        "error: --cluster kubernetes needs JOB_COMPLETION_INDEX, which Kubernetes sets in the pods of an Indexed Job "
        "(completionMode: Indexed) (not set in this pod)"
    )
    assert not run.exists()


def test_a_worker_count_that_does_not_match_the_addresses_stops_every_pod(tmp_path, tfds_dir):
    ports = free_ports(2)
    for index in (0, 1):
        env = indexed_job(index, ports, workers=3)
        line = one_error_line(trainer(tmp_path / "run", env, tfds_dir))
        assert line == (
            "error: --cluster kubernetes: SAGAN_WORKER_HOSTS lists 2 address(es) but SAGAN_WORKERS=3: "
            "list one per worker, or give a pattern with {index}"
        )
    assert not (tmp_path / "run").exists()


def test_the_chief_stops_with_one_line_when_its_port_is_taken(tmp_path, tfds_dir):
    run, ports = tmp_path / "run", free_ports(2)
    with socket.socket() as other:
        other.bind(("0.0.0.0", ports[0]))
        other.listen()
        result = trainer(run, indexed_job(0, ports), tfds_dir)
    assert one_error_line(result) == (
        f"error: --cluster kubernetes: worker 0 listens on port {ports[0]} (SAGAN_WORKER_HOSTS), in use by another "
        "process on this host; give the workers another port in SAGAN_WORKER_HOSTS"
    )
    assert not run.exists() or not any(p.name != "trainer.lock" for p in run.iterdir())


def test_the_cluster_flag_outside_multiworker_is_a_usage_error(tmp_path):
    result = run_cli("sagan_tf.train", "--config", "fashion_mnist32", "--logdir", str(tmp_path / "run"), "--cluster", "kubernetes")
    assert one_error_line(result) == "error: --cluster kubernetes needs --strategy multiworker (see sagan-train --help)"
