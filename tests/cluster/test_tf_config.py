"""``sagan_tf.cluster``: TF_CONFIG without TensorFlow, and which process is the chief."""

import json

import pytest

from sagan_tf import cluster
from sagan_tf.errors import ConfigError

WORKERS = ["h0:1", "h1:1"]


@pytest.mark.parametrize(
    "jobs, task_type, index, chief",
    [
        ({"worker": WORKERS}, "worker", 0, True),
        ({"worker": WORKERS}, "worker", 1, False),
        # With a chief task, worker 0 is an ordinary worker: it must not write into the run directory.
        ({"chief": ["c:1"], "worker": WORKERS}, "worker", 0, False),
        ({"chief": ["c:1"], "worker": WORKERS}, "chief", 0, True),
    ],
)
def test_the_chief_is_the_chief_task_else_worker_0(jobs, task_type, index, chief):
    spec = cluster.read_tf_config(json.dumps({"cluster": jobs, "task": {"type": task_type, "index": index}}))
    assert cluster.is_chief_process(spec) is chief


def test_a_process_outside_any_cluster_is_its_own_chief():
    assert cluster.is_chief_task({}, None, None)


@pytest.mark.parametrize(
    "raw, message",
    [(None, "needs the TF_CONFIG environment variable"), ('{"cluster": {}}', "TF_CONFIG must be JSON like"), ("{", "TF_CONFIG must be JSON like")],
)
def test_a_missing_or_malformed_tf_config_is_a_config_error(raw, message):
    with pytest.raises(ConfigError, match=message):
        cluster.read_tf_config(raw)


def test_a_chief_alone_is_a_cluster_of_one_as_tfjob_and_vertex_ai_write_it():
    """A TFJob with only a Chief replica, a Vertex AI job with only its first worker pool."""
    raw = '{"cluster": {"chief": ["job-chief-0.ns.svc:2222"]}, "task": {"type": "chief", "index": 0}, "environment": "cloud"}'
    spec = cluster.read_tf_config(raw)
    assert cluster.is_chief_process(spec) and cluster.task_address(spec) == "job-chief-0.ns.svc:2222"


def test_the_task_address_is_this_tasks_entry_in_the_cluster():
    spec = cluster.read_tf_config(json.dumps({"cluster": {"chief": ["c:7"], "worker": WORKERS}, "task": {"type": "worker", "index": "1"}}))
    assert cluster.task_address(spec) == "h1:1" and cluster.is_chief_process(spec) is False


@pytest.mark.parametrize(
    "jobs, task, message",
    [
        ({"chief": ["c:1"], "worker": WORKERS, "ps": ["p:1"]}, {"type": "worker", "index": 0},
         "TF_CONFIG has 'ps' tasks, but sagan-train runs chief and worker tasks only (MultiWorkerMirroredStrategy): "
         "remove them (TFJob: the PS and Evaluator replicas; Vertex AI: worker pools 3 and 4)"),
        ({"chief": ["c:1"], "worker": WORKERS}, {"type": "evaluator", "index": 0}, "TF_CONFIG has 'evaluator' tasks, but"),
        ({"master": ["m:1"], "worker": WORKERS}, {"type": "master", "index": 0}, "TF_CONFIG has 'master' tasks, but"),
        ({"worker": WORKERS}, {"type": "worker", "index": 2},
         "TF_CONFIG: this process is task worker 2, which is not in its cluster (2 worker)"),
        ({"worker": WORKERS}, {"type": "chief", "index": 0},
         "TF_CONFIG: this process is task chief 0, which is not in its cluster (2 worker)"),
    ],
)
def test_tasks_the_strategy_does_not_run_are_refused_with_one_line(jobs, task, message):
    with pytest.raises(ConfigError) as raised:
        cluster.read_tf_config(json.dumps({"cluster": jobs, "task": task}))
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    "raw",
    ['{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}',
     '{"cluster": {"worker": "h0:1"}, "task": {"type": "worker", "index": 0}}',
     '{"cluster": {"worker": ["h0:1"]}, "task": {"type": "worker", "index": "one"}}',
     '{"cluster": {"worker": ["h0:1"]}, "task": {"type": "worker"}}',
     '["cluster"]'],
)
def test_a_cluster_of_the_wrong_shape_is_the_example_line(raw):
    with pytest.raises(ConfigError, match="TF_CONFIG must be JSON like"):
        cluster.read_tf_config(raw)
