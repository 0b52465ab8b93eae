"""``deploy/vertex/custom_job.yaml``: a CustomJobSpec of Vertex AI's v1 API (no schema is available
offline: its fields are checked against the REST reference's names), a chief pool of one replica and a
worker pool running the same sagan-train command, which the trainer's parser reads with the variables
Vertex AI sets, and the cluster Vertex AI describes, which the trainer's cluster code reads."""

import json
import shlex

from sagan_tf import cluster
from tests.helpers.deploy import DEPLOY, documents, trainer_args

SPEC = DEPLOY / "vertex" / "custom_job.yaml"

# Field names of CustomJobSpec, WorkerPoolSpec, MachineSpec, ContainerSpec, DiskSpec and Scheduling
# (Vertex AI REST reference, v1).
FIELDS = {
    "spec": {"workerPoolSpecs", "scheduling", "serviceAccount", "network", "reservedIpRanges", "baseOutputDirectory",
             "protectedArtifactLocationId", "tensorboard", "enableWebAccess", "enableDashboardAccess", "experiment",
             "experimentRun", "models", "pscInterfaceConfig"},
    "pool": {"containerSpec", "pythonPackageSpec", "machineSpec", "replicaCount", "nfsMounts", "diskSpec"},
    "machine": {"machineType", "acceleratorType", "acceleratorCount", "tpuTopology", "reservationAffinity"},
    "container": {"imageUri", "command", "args", "env"},
    "disk": {"bootDiskType", "bootDiskSizeGb"},
    "scheduling": {"timeout", "restartJobOnWorkerRestart", "strategy", "disableRetries", "maxWaitDuration"},
}


def spec():
    (only,) = documents(SPEC)
    return only


def test_the_spec_uses_only_fields_of_the_custom_job_api():
    job = spec()
    assert set(job) <= FIELDS["spec"] and set(job["scheduling"]) <= FIELDS["scheduling"]
    for pool in job["workerPoolSpecs"]:
        assert set(pool) <= FIELDS["pool"] and set(pool["machineSpec"]) <= FIELDS["machine"]
        assert set(pool["containerSpec"]) <= FIELDS["container"] and set(pool["diskSpec"]) <= FIELDS["disk"]
    assert job["baseOutputDirectory"]["outputUriPrefix"].startswith("gs://")


def test_a_chief_pool_of_one_and_a_worker_pool_run_the_same_trainer():
    chief, workers = spec()["workerPoolSpecs"]
    assert chief["replicaCount"] == 1 and workers["replicaCount"] >= 1
    assert chief["machineSpec"] == workers["machineSpec"] and chief["containerSpec"] == workers["containerSpec"]
    assert spec()["scheduling"]["restartJobOnWorkerRestart"] is True


def vertex_environment(base):
    """What Vertex AI sets from baseOutputDirectory (REST reference, CustomJobSpec.baseOutputDirectory)."""
    return {"AIP_MODEL_DIR": f"{base}/model/", "AIP_CHECKPOINT_DIR": f"{base}/checkpoints/", "AIP_TENSORBOARD_LOG_DIR": f"{base}/logs/"}


def test_the_command_writes_its_outputs_through_the_cloud_storage_mount():
    job = spec()
    base = job["baseOutputDirectory"]["outputUriPrefix"]
    container = job["workerPoolSpecs"][0]["containerSpec"]
    args = trainer_args(container["command"] + container["args"], vertex_environment(base))
    mounted = "/gcs/" + base[len("gs://"):]
    assert (args.strategy, args.cluster, args.config) == ("multiworker", "tf_config", "imagenet128")
    assert (args.logdir, str(args.trainer.summary_dir), str(args.trainer.export_dir)) == (
        f"{mounted}/checkpoints", f"{mounted}/logs", f"{mounted}/model"
    )
    assert args.data_dir.startswith("/gcs/")


def test_the_cluster_vertex_ai_describes_has_the_first_pool_as_its_chief():
    """TF_CONFIG as Vertex AI sets it: the first pool's replica is the "chief" task, the second pool's
    replicas the "worker" tasks (hosts workerpool<N>-<i>, port 2222)."""
    pools = spec()["workerPoolSpecs"]
    jobs = {"chief": ["workerpool0-0:2222"], "worker": [f"workerpool1-{i}:2222" for i in range(pools[1]["replicaCount"])]}
    tasks = [("chief", 0)] + [("worker", i) for i in range(pools[1]["replicaCount"])]
    chiefs = [task for task in tasks if cluster.is_chief("tf_config", {"TF_CONFIG": json.dumps(
        {"cluster": jobs, "task": {"type": task[0], "index": task[1], "trial": ""}, "environment": "cloud"})})]
    assert chiefs == [("chief", 0)]


def test_the_gcloud_command_in_the_header_names_this_file():
    comments = "\n".join(line[1:].strip() for line in SPEC.read_text().splitlines() if line.startswith("#"))
    (command,) = [line for line in comments.replace("\\\n", " ").splitlines() if line.startswith("gcloud ")]
    words = shlex.split(command)
    assert words[:4] == ["gcloud", "ai", "custom-jobs", "create"] and "--config=deploy/vertex/custom_job.yaml" in words
    assert any(w.startswith("--region=") for w in words) and any(w.startswith("--display-name=") for w in words)
