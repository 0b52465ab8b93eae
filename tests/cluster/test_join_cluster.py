"""``distribute.join_cluster``: what each ``--cluster`` leaves in ``TF_CONFIG`` before TensorFlow starts
its server, and the one line when this task's port is taken."""

import json
import os
import socket

import pytest

from sagan_tf.cluster import distribute
from sagan_tf.errors import ConfigError
from tests.helpers.cli import free_ports


def tf_config(ports, task_type="worker", index=1):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": task_type, "index": index}})


def test_a_tf_config_is_kept_as_it_is(monkeypatch):
    raw = tf_config(free_ports(2))
    monkeypatch.setenv("TF_CONFIG", raw)
    distribute.join_cluster("tf_config")
    assert os.environ["TF_CONFIG"] == raw


def test_a_task_whose_port_is_taken_is_one_line(monkeypatch):
    ports = free_ports(2)
    monkeypatch.setenv("TF_CONFIG", tf_config(ports))
    with socket.socket() as other:
        other.bind(("127.0.0.1", ports[1]))
        other.listen()
        with pytest.raises(ConfigError) as raised:
            distribute.join_cluster("tf_config")
    assert str(raised.value) == (
        f"TF_CONFIG: this process, task worker 1, listens at 127.0.0.1:{ports[1]}, in use by another process on this host"
    )


def test_a_pod_of_an_indexed_job_gets_its_tf_config(monkeypatch):
    ports = free_ports(2)
    monkeypatch.setenv("TF_CONFIG", "stale")
    for name, value in {"JOB_COMPLETION_INDEX": "0", "SAGAN_WORKERS": "2",
                        "SAGAN_WORKER_HOSTS": ",".join(f"127.0.0.1:{p}" for p in ports)}.items():
        monkeypatch.setenv(name, value)
    distribute.join_cluster("kubernetes")
    assert json.loads(os.environ["TF_CONFIG"]) == {
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": 0}
    }


def test_an_unknown_cluster_is_one_line():
    with pytest.raises(ConfigError, match=r"unknown cluster 'yarn' \(choose from tf_config, slurm, kubernetes\)"):
        distribute.join_cluster("yarn")
