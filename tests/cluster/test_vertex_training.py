"""Vertex AI's output variables: a tiny run started as a Vertex AI replica writes its run directory into
``AIP_CHECKPOINT_DIR``, its TensorBoard events into ``AIP_TENSORBOARD_LOG_DIR`` and its generator into
``AIP_MODEL_DIR``; run again it resumes and exports nothing twice; ``--logdir`` wins over the first two;
a chief and a worker, with the TF_CONFIG Vertex AI writes for two worker pools, train one run that the
chief alone writes."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO
from tests.helpers.cli import free_ports, read_events, run_cli, train_args
from tests.training.test_multiworker import wait_all

AIP_NAMES = ("AIP_", "TF_CONFIG", "CLUSTER_SPEC")


def vertex_env(root):
    """The variables of a CustomJob whose baseOutputDirectory is ``root`` (local paths stand in for gs://)."""
    clean = {k: "" for k in os.environ if k.startswith(AIP_NAMES)}
    return dict(clean, AIP_CHECKPOINT_DIR=f"{root}/checkpoints/", AIP_TENSORBOARD_LOG_DIR=f"{root}/logs/",
                AIP_MODEL_DIR=f"{root}/model/")


def without_logdir(args):
    i = args.index("--logdir")
    return args[:i] + args[i + 2:]


def trainer(args, env, tfds_dir):
    result = run_cli("sagan_tf.train", *args, tfds_dir=tfds_dir, env=env, timeout=600)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr


def test_a_vertex_replica_writes_where_the_variables_point_and_resumes_from_there(tmp_path, tfds_dir):
    base = tmp_path / "base"
    env = vertex_env(base)
    args = without_logdir(train_args(tmp_path / "unused", 2))
    trainer(args, env, tfds_dir)
    run, logs, model = base / "checkpoints", base / "logs", base / "model"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml", "training.json"]
    assert (run / "checkpoints" / "ckpt-2.index").exists()
    scalars, _ = read_events(logs)
    assert sorted(scalars["d_loss"]) == sorted(scalars["g_loss"]) == [1, 2]
    assert [p.name for p in model.iterdir() if not p.name.startswith(".")] == ["1"]
    manifest = json.loads((model / "1" / "export.json").read_text())
    assert manifest["source"]["checkpoint"] == str(run / "checkpoints" / "ckpt-2")
    assert (model / "1" / "saved_model.pb").exists() and manifest["version"] == 1
    assert list(manifest["files"]) == ["saved_model"] and not (model / "1" / "tflite").exists()

    # The same job again (a restarted replica): it resumes, finds nothing to do, and keeps the one export.
    err = trainer(args, env, tfds_dir)
    assert "already trained 2 steps (train.steps = 2); nothing to do" in err
    assert f"export: {model / '1'} already holds {run / 'checkpoints' / 'ckpt-2'}" in err
    assert [p.name for p in model.iterdir() if not p.name.startswith(".")] == ["1"]


@pytest.mark.slow  # the rule itself: tests/cluster/test_vertex.py
def test_an_explicit_logdir_wins_over_the_run_directories_and_the_model_still_goes_to_aip_model_dir(tmp_path, tfds_dir):
    base, mine = tmp_path / "base", tmp_path / "mine"
    env = vertex_env(base)
    trainer(train_args(mine, 2), env, tfds_dir)
    assert not (base / "checkpoints").exists() and not (base / "logs").exists()
    assert (mine / "checkpoints" / "ckpt-2.index").exists()
    assert sorted(read_events(mine / "train")[0]["d_loss"]) == [1, 2]
    manifest = json.loads((base / "model" / "1" / "export.json").read_text())
    assert manifest["source"]["checkpoint"] == str(mine / "checkpoints" / "ckpt-2")


def vertex_tf_config(ports, task_type):
    """The TF_CONFIG of a CustomJob with a chief pool and a worker pool of one replica each."""
    cluster = {"chief": [f"127.0.0.1:{ports[0]}"], "worker": [f"127.0.0.1:{ports[1]}"]}
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": 0}, "environment": "cloud",
                       "job": {"worker_pool_specs": "..."}})


def test_a_chief_and_a_worker_pool_train_one_run_that_only_the_chief_writes(tmp_path, tfds_dir):
    base = tmp_path / "base"
    env = dict(os.environ, **vertex_env(base), TF_CPP_MIN_LOG_LEVEL="3", TFDS_DATA_DIR=tfds_dir)
    args = [*without_logdir(train_args(tmp_path / "unused", 3)), "--strategy", "multiworker"]
    ports = free_ports(2)
    procs = [
        subprocess.Popen([sys.executable, "-m", "sagan_tf.train", *args], cwd=REPO,
                         env=dict(env, TF_CONFIG=vertex_tf_config(ports, task)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for task in ("chief", "worker")
    ]
    results = wait_all(procs)
    for code, err in results:
        assert code == 0 and "Traceback" not in err, err[-3000:]
    errs = [err for _, err in results]
    finals = [[line.split(";")[0] for line in err.splitlines() if line.startswith("step ")] for err in errs]
    assert finals[0] == finals[1] and len(finals[0]) == 1 and finals[0][0].startswith("step 3: ")
    run, logs, model = base / "checkpoints", base / "logs", base / "model"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml", "training.json"]
    (session,) = json.loads((run / "training.json").read_text())["sessions"]
    assert session["replicas"] == 2 and (session["start_step"], session["end_step"]) == (0, 3)
    assert sorted(read_events(logs)[0]["d_loss"]) == [1, 2, 3]  # one writer: each step once
    assert len(list(logs.rglob("events.out.tfevents.*"))) == 1
    assert [p.name for p in model.iterdir() if not p.name.startswith(".")] == ["1"]
    manifest = json.loads((model / "1" / "export.json").read_text())
    assert manifest["source"]["checkpoint"] == str(run / "checkpoints" / "ckpt-3")
