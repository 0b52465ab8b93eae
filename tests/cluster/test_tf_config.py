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
