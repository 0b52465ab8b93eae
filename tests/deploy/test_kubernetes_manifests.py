"""``deploy/kubernetes``: the Service, Job and PersistentVolumeClaim validated against Kubernetes' own
JSON schemas (offline, kubernetes-validate); the TFJob and JobSet custom resources, which have no
schema here, through their embedded pod and Job templates and a check of their own fields against the
Training Operator's and JobSet's v1 APIs; and in every manifest the sagan-train command, read by the
trainer's parser, and the cluster each pod would describe, read by the trainer's cluster code."""

import re

import pytest

from sagan_tf import cluster
from sagan_tf.cluster import kubernetes
from tests.helpers.deploy import DEPLOY, documents, trainer_args, validate

MANIFESTS = DEPLOY / "kubernetes"


def by_kind(name):
    return {doc["kind"]: doc for doc in documents(MANIFESTS / name)}


def container(pod_spec, name):
    (found,) = [c for c in pod_spec["containers"] if c["name"] == name]
    return found


def environment(container_spec):
    return {e["name"]: e["value"] for e in container_spec.get("env", [])}


def shared_run_directory(pod_spec, args):
    """The trainer's run directory is on the ReadWriteMany claim of pvc.yaml, mounted in the pod."""
    (claim,) = by_kind("pvc.yaml").values()
    assert "ReadWriteMany" in claim["spec"]["accessModes"]
    (volume,) = [v for v in pod_spec["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == claim["metadata"]["name"]]
    mounts = [m["mountPath"] for c in pod_spec["containers"] for m in c["volumeMounts"] if m["name"] == volume["name"]]
    assert any(args.logdir.startswith(m.rstrip("/") + "/") for m in mounts) and any(args.data_dir.startswith(m) for m in mounts)


def exit_code_actions(job_spec, container_name):
    """{exit code: action} of the Job's podFailurePolicy for the trainer's container."""
    actions = {}
    for rule in job_spec["podFailurePolicy"]["rules"]:
        codes = rule.get("onExitCodes")
        if codes:
            assert codes["containerName"] == container_name and codes["operator"] == "In"
            actions.update(dict.fromkeys(codes["values"], rule["action"]))
    return actions


@pytest.mark.parametrize("name", ["pvc.yaml", "indexed-job.yaml"])
def test_the_core_resources_fit_kubernetes_schemas(name):
    for doc in documents(MANIFESTS / name):
        validate(doc)


def test_the_embedded_templates_of_the_custom_resources_fit_kubernetes_schemas():
    """The pod templates of the TFJob (as a v1 PodTemplate) and the Job template of the JobSet (as a
    batch/v1 Job): all that the custom resources hold of Kubernetes' own types."""
    tfjob = by_kind("tfjob.yaml")["TFJob"]
    for replica in tfjob["spec"]["tfReplicaSpecs"].values():
        validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": replica["template"]})
    for replicated in by_kind("jobset.yaml")["JobSet"]["spec"]["replicatedJobs"]:
        validate({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "t"}, "spec": replicated["template"]["spec"]})


def test_the_indexed_job_runs_one_worker_per_index_that_finds_the_others_through_the_service():
    manifest = by_kind("indexed-job.yaml")
    service, job = manifest["Service"], manifest["Job"]
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    trainer = container(pod, "trainer")
    env = environment(trainer)
    workers = int(env["SAGAN_WORKERS"])
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == workers == 2
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["selector"] == {"batch.kubernetes.io/job-name": job["metadata"]["name"]}
    assert pod["subdomain"] == service["metadata"]["name"] and pod["restartPolicy"] == "Never"

    args = trainer_args(trainer["command"] + trainer["args"])
    assert (args.strategy, args.cluster) == ("multiworker", "kubernetes")
    shared_run_directory(pod, args)
    # Each pod, named as Kubernetes names it, reads the same cluster and finds itself in it.
    expected = [f"{job['metadata']['name']}-{i}.{service['metadata']['name']}:2222" for i in range(workers)]
    for index in range(workers):
        read = kubernetes.read_pod(dict(env, JOB_COMPLETION_INDEX=str(index)))
        kubernetes.check_own_host(read, f"{job['metadata']['name']}-{index}")
        assert read.workers == tuple(expected) and cluster.is_chief("kubernetes", dict(env, JOB_COMPLETION_INDEX=str(index))) == (index == 0)
    assert {p["containerPort"] for p in trainer["ports"]} == {p["port"] for p in service["spec"]["ports"]} == {2222}


def test_the_indexed_job_retries_what_a_retry_can_fix():
    spec = by_kind("indexed-job.yaml")["Job"]["spec"]
    assert exit_code_actions(spec, "trainer") == {2: "FailJob", 143: "Ignore"}
    (disruption,) = [r for r in spec["podFailurePolicy"]["rules"] if r.get("onPodConditions")]
    assert disruption["action"] == "Ignore" and disruption["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] >= 60


# The fields of JobSet v1alpha2 (sigs.k8s.io/jobset api/jobset/v1alpha2/jobset_types.go).
JOBSET_SPEC = {"replicatedJobs", "network", "successPolicy", "failurePolicy", "startupPolicy", "suspend", "coordinator",
               "managedBy", "ttlSecondsAfterFinished", "volumeClaimPolicies"}
JOBSET_ACTIONS = {"FailJobSet", "RestartJobSet", "RestartJobSetAndIgnoreMaxRestarts", "RestartJob", "RestartJobAndIgnoreMaxRestarts"}


def test_the_jobset_names_its_pods_as_the_jobset_controller_does():
    jobset = by_kind("jobset.yaml")["JobSet"]
    assert jobset["apiVersion"] == "jobset.x-k8s.io/v1alpha2" and set(jobset["spec"]) <= JOBSET_SPEC
    network = jobset["spec"]["network"]
    assert set(network) <= {"enableDNSHostnames", "subdomain", "publishNotReadyAddresses"} and network["enableDNSHostnames"] is True
    subdomain = network.get("subdomain", jobset["metadata"]["name"])
    (replicated,) = jobset["spec"]["replicatedJobs"]
    assert set(replicated) <= {"name", "groupName", "template", "replicas", "dependsOn"} and replicated["replicas"] == 1
    spec = replicated["template"]["spec"]
    trainer = container(spec["template"]["spec"], "trainer")
    env = environment(trainer)
    workers = int(env["SAGAN_WORKERS"])
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == workers
    args = trainer_args(trainer["command"] + trainer["args"])
    assert (args.strategy, args.cluster) == ("multiworker", "kubernetes")
    shared_run_directory(spec["template"]["spec"], args)
    for index in range(workers):
        hostname = f"{jobset['metadata']['name']}-{replicated['name']}-0-{index}"  # <jobset>-<replicated job>-<job>-<pod>
        read = kubernetes.read_pod(dict(env, JOB_COMPLETION_INDEX=str(index)))
        kubernetes.check_own_host(read, hostname)
        assert read.address == f"{hostname}.{subdomain}:2222"


def test_the_jobset_fails_at_once_on_a_wrong_command_and_restarts_everything_otherwise():
    jobset = by_kind("jobset.yaml")["JobSet"]
    policy = jobset["spec"]["failurePolicy"]
    assert set(policy) <= {"maxRestarts", "restartStrategy", "rules"} and policy["maxRestarts"] >= 1
    (rule,) = policy["rules"]
    assert re.fullmatch(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?", rule["name"])  # the API's pattern for rule names
    assert rule["action"] in JOBSET_ACTIONS and (rule["action"], rule["onJobFailureReasons"]) == ("FailJobSet", ["PodFailurePolicy"])
    (replicated,) = jobset["spec"]["replicatedJobs"]
    assert exit_code_actions(replicated["template"]["spec"], "trainer") == {2: "FailJob"}
    assert replicated["template"]["spec"]["backoffLimit"] == 0


def tfjob_tf_config(tfjob, replica_type, index, namespace="default"):
    """The TF_CONFIG the Training Operator gives a replica: every replica type but Evaluator, lower-cased,
    at <job>-<type>-<index>.<namespace>.svc:<port of the container named tensorflow, tfjob-port>."""
    jobs = {}
    for rtype, replica in tfjob["spec"]["tfReplicaSpecs"].items():
        tensorflow = container(replica["template"]["spec"], "tensorflow")
        (port,) = [p["containerPort"] for p in tensorflow["ports"] if p["name"] == "tfjob-port"]
        name = rtype.lower()
        jobs[name] = [f"{tfjob['metadata']['name']}-{name}-{i}.{namespace}.svc:{port}" for i in range(replica["replicas"])]
    return {"cluster": jobs, "task": {"type": replica_type.lower(), "index": index}, "environment": "cloud"}


def test_the_tfjob_runs_a_chief_and_workers_in_containers_named_tensorflow():
    import json

    tfjob = by_kind("tfjob.yaml")["TFJob"]
    assert tfjob["apiVersion"] == "kubeflow.org/v1"
    assert set(tfjob["spec"]) <= {"runPolicy", "tfReplicaSpecs", "successPolicy", "enableDynamicWorker"}
    replicas = tfjob["spec"]["tfReplicaSpecs"]
    assert set(replicas) == {"Chief", "Worker"} and replicas["Chief"]["replicas"] == 1
    templates = []
    for replica in replicas.values():
        assert set(replica) <= {"replicas", "restartPolicy", "template"} and replica["restartPolicy"] == "ExitCode"
        pod = replica["template"]["spec"]
        tensorflow = container(pod, "tensorflow")
        args = trainer_args(tensorflow["command"] + tensorflow["args"])
        assert (args.strategy, args.cluster) == ("multiworker", "tf_config")
        shared_run_directory(pod, args)
        templates.append(replica["template"])
    assert templates[0] == templates[1]
    # The cluster as the operator writes it: one chief, the Chief replica, every task in it.
    tasks = [(rtype, i) for rtype, replica in replicas.items() for i in range(replica["replicas"])]
    chiefs = [task for task in tasks if cluster.is_chief("tf_config", {"TF_CONFIG": json.dumps(tfjob_tf_config(tfjob, *task))})]
    assert chiefs == [("Chief", 0)] and len(tasks) == 2
