"""``sagan_tf.cluster.kubernetes``: the pod of an Indexed Job read without TensorFlow, its TF_CONFIG,
the chief, and the one line of each way the pod's description can be wrong."""

import pytest

from sagan_tf import cluster
from sagan_tf.cluster import kubernetes
from sagan_tf.errors import ConfigError

POD = {"JOB_COMPLETION_INDEX": "1", "SAGAN_WORKERS": "3", "SAGAN_WORKER_HOSTS": "sagan-train-{index}.sagan-train:2222"}


def test_the_pattern_names_every_worker_of_the_job():
    pod = kubernetes.read_pod(POD)
    hosts = ["sagan-train-0.sagan-train:2222", "sagan-train-1.sagan-train:2222", "sagan-train-2.sagan-train:2222"]
    assert pod == kubernetes.Pod(index=1, workers=tuple(hosts))
    assert pod.address == "sagan-train-1.sagan-train:2222" and pod.port == 2222
    assert pod.tf_config() == {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": 1}}


def test_a_host_without_a_port_listens_at_2222_and_a_list_gives_each_worker_its_own():
    pod = kubernetes.read_pod(dict(POD, SAGAN_WORKER_HOSTS="w-{index}.svc.ns.svc.cluster.local"))
    assert pod.workers == tuple(f"w-{i}.svc.ns.svc.cluster.local:2222" for i in range(3))
    listed = kubernetes.read_pod(dict(POD, SAGAN_WORKER_HOSTS=" 127.0.0.1:4001, 127.0.0.1:4002,10.0.0.7"))
    assert listed.workers == ("127.0.0.1:4001", "127.0.0.1:4002", "10.0.0.7:2222") and listed.port == 4002


@pytest.mark.parametrize("index, chief", [("0", True), ("1", False), ("2", False)])
def test_index_0_is_the_chief(index, chief):
    assert cluster.is_chief("kubernetes", dict(POD, JOB_COMPLETION_INDEX=index)) is chief


@pytest.mark.parametrize(
    "missing, what",
    [
        ("JOB_COMPLETION_INDEX", "which Kubernetes sets in the pods of an Indexed Job (completionMode: Indexed)"),
        ("SAGAN_WORKERS", "the number of workers, the Job's completions"),
        ("SAGAN_WORKER_HOSTS", "the workers' host[:port], a pattern with {index} such as <job>-{index}.<service>"),
    ],
)
def test_a_missing_variable_is_named_with_what_it_is(missing, what):
    with pytest.raises(ConfigError) as raised:
        cluster.is_chief("kubernetes", {k: v for k, v in POD.items() if k != missing})
    assert str(raised.value) == f"--cluster kubernetes needs {missing}, {what} (not set in this pod)"


def test_outside_a_pod_every_variable_is_named():
    with pytest.raises(ConfigError) as raised:
        kubernetes.read_pod({"SAGAN_WORKERS": " "})
    assert str(raised.value).startswith(
        "--cluster kubernetes needs JOB_COMPLETION_INDEX, which Kubernetes sets in the pods of an Indexed Job "
        "(completionMode: Indexed); SAGAN_WORKERS, the number of workers"
    )
    assert "; SAGAN_WORKER_HOSTS, the workers' host[:port]" in str(raised.value)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"SAGAN_WORKERS": "two"}, "--cluster kubernetes: SAGAN_WORKERS='two' is not a whole number"),
        ({"JOB_COMPLETION_INDEX": "1.0"}, "--cluster kubernetes: JOB_COMPLETION_INDEX='1.0' is not a whole number"),
        ({"SAGAN_WORKERS": "0"}, "--cluster kubernetes: SAGAN_WORKERS=0; it must be the Job's completions, 1 or more"),
        ({"JOB_COMPLETION_INDEX": "3"},
         "--cluster kubernetes: JOB_COMPLETION_INDEX=3 is not a worker of SAGAN_WORKERS=3: "
         "set SAGAN_WORKERS to the Job's completions (and parallelism)"),
        ({"JOB_COMPLETION_INDEX": "-1"}, "--cluster kubernetes: JOB_COMPLETION_INDEX=-1 is not a worker of SAGAN_WORKERS=3"),
        ({"SAGAN_WORKER_HOSTS": "a:1,b:1"},
         "--cluster kubernetes: SAGAN_WORKER_HOSTS lists 2 address(es) but SAGAN_WORKERS=3: "
         "list one per worker, or give a pattern with {index}"),
        ({"SAGAN_WORKER_HOSTS": "a:1,b:1,a:1"},
         "--cluster kubernetes: SAGAN_WORKER_HOSTS gives workers 0 and 2 the same address a:1"),
        ({"SAGAN_WORKER_HOSTS": "w-{index}:http"},
         "--cluster kubernetes: SAGAN_WORKER_HOSTS gives worker 0 the address 'w-0:http'; expected host[:port]"),
        ({"SAGAN_WORKER_HOSTS": "w-{index}:65536"},
         "--cluster kubernetes: SAGAN_WORKER_HOSTS gives worker 0 the address 'w-0:65536'; expected host[:port]"),
        ({"SAGAN_WORKER_HOSTS": "{job}-{index}.svc"},
         "--cluster kubernetes: SAGAN_WORKER_HOSTS gives worker 0 the address '{job}-0.svc'; expected host[:port]"),
        ({"SAGAN_WORKER_HOSTS": "a:1,:2,c:3"},
         "--cluster kubernetes: SAGAN_WORKER_HOSTS gives worker 1 the address ':2'; expected host[:port]"),
    ],
)
def test_a_pod_that_does_not_add_up_is_one_config_error(changes, message):
    with pytest.raises(ConfigError) as raised:
        kubernetes.read_pod(dict(POD, **changes))
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    "hostname", ["sagan-train-1", "sagan-train-1.sagan-train.default.svc.cluster.local", "SAGAN-TRAIN-1"]
)
def test_the_pattern_names_this_pod(hostname):
    kubernetes.check_own_host(kubernetes.read_pod(POD), hostname)


def test_a_pattern_that_names_another_job_is_refused():
    pod = kubernetes.read_pod(dict(POD, SAGAN_WORKER_HOSTS="sagan-tarin-{index}.sagan-train"))
    with pytest.raises(ConfigError) as raised:
        kubernetes.check_own_host(pod, "sagan-train-1")
    assert str(raised.value) == (
        "--cluster kubernetes: SAGAN_WORKER_HOSTS puts worker 1 at sagan-tarin-1.sagan-train:2222, but this pod's "
        "hostname is sagan-train-1: the pattern must name the Job's pods, <job name>-{index}.<service>"
    )


@pytest.mark.parametrize("hosts", ["127.0.0.1:5000,127.0.0.1:5001,127.0.0.1:5002", "localhost:500{index}", "[::1]:4000,b,c"])
def test_addresses_given_as_ip_addresses_are_not_compared_with_the_hostname(hosts):
    kubernetes.check_own_host(kubernetes.read_pod(dict(POD, JOB_COMPLETION_INDEX="0", SAGAN_WORKER_HOSTS=hosts)), "node7")
