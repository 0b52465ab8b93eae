"""Two worker processes on 127.0.0.1 under MultiWorkerMirroredStrategy (``--strategy multiworker``)."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sagan_tf import config as config_lib
from sagan_tf.runs.checkpointing import read_variables
from tests.helpers import REPO
from tests.helpers.cli import TINY, checkpoint_tensors, free_ports, read_events
from tests.helpers.small_data import ADA_LECAM, check_logged_regularization

# Small-data training (DiffAugment with ADA, LeCam): its state (the augmentation probability, ADA's
# r_t and sums, the LeCam anchors) is all-reduced, one on every replica.
SMALL_DATA = (*ADA_LECAM, "log.scalars_every=1")
REGULARIZATION = ("augment_p", "ada_rt", "ada_sign_sum", "ada_count", "lecam_anchor_real", "lecam_anchor_fake",
                  "lecam_updates")


def start_workers(logdirs, outs, steps, tfds_dir, *extra, poison=None, cpu_flags=None, cluster=None, envs=(None, None)):
    """Two helper workers (``tests.helpers.multiworker_worker``); ``cluster``: its CLUSTER argument
    (default: two free ports, TF_CONFIG); ``envs``: each worker's extra environment variables."""
    cluster = cluster or ",".join(str(p) for p in free_ports(2))
    env = dict(os.environ, TFDS_DATA_DIR=tfds_dir, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    if poison:
        env["SAGAN_TEST_POISON"] = poison
    if cpu_flags is not None:
        env["SAGAN_TEST_CPU_FLAGS"] = json.dumps(cpu_flags)
    return [
        subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.multiworker_worker", str(i), cluster, str(logdirs[i]), str(outs[i]),
             str(steps), *TINY, "train.batch_size=8", *extra],
            cwd=REPO, env=dict(env, **(envs[i] or {})), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]


def wait_all(procs, timeout=420):
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            results.append((p.returncode, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return results


def test_two_workers_hold_identical_weights_and_only_the_chief_writes(tmp_path, tfds_dir):
    # Worker 1 gets its own (would-be) run directory: whatever it wrote would appear there.
    logdirs = [tmp_path / "chief_run", tmp_path / "worker1_run"]
    outs = [tmp_path / "w0.npz", tmp_path / "w1.npz"]
    # Both workers are given one MLflow store (when its client is installed): only the chief logs to it.
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking = ("log.trackers=[tensorboard,mlflow]", f"log.mlflow_uri={store}") if importlib.util.find_spec("mlflow") else ()
    if tracking:
        from tests.helpers.mlflow_store import new_experiment

        new_experiment(store, tmp_path / "artifacts")
    results = wait_all(start_workers(logdirs, outs, 6, tfds_dir, *SMALL_DATA, *tracking))
    for code, err in results:
        assert code == 0, err[-3000:]
    if tracking:
        from mlflow.tracking import MlflowClient

        (run,) = MlflowClient(store).search_runs([MlflowClient(store).get_experiment_by_name("sagan_tf").experiment_id])
        assert sorted(m.step for m in MlflowClient(store).get_metric_history(run.info.run_id, "d_loss")) == list(range(1, 7))
    w0, w1 = np.load(outs[0]), np.load(outs[1])
    assert int(w0["__replicas__"]) == 2 and int(w0["__step__"]) == 6 == int(w1["__step__"])
    assert len(w0.files) > 100 and w0.files == w1.files
    for name in w0.files:
        np.testing.assert_array_equal(w0[name], w1[name], err_msg=name)
    # The chief wrote config, checkpoints (every 10 steps + the final one) and TensorBoard events...
    chief = logdirs[0]
    assert (chief / "config.yaml").exists()
    assert sorted(p.name for p in (chief / "checkpoints").iterdir() if p.name.startswith("ckpt-6."))
    assert list((chief / "train").glob("events.out.tfevents.*"))
    # ... and the other worker wrote nothing at all.
    assert not logdirs[1].exists()
    # The chief's checkpoint holds every variable both workers ended with.
    saved = {}
    for net in ("generator", "discriminator"):
        saved.update({f"{net}/{k}": v for k, v in read_variables(str(chief / "checkpoints" / "ckpt-6"), net).items()})
    weights = [n for n in w0.files if not n.startswith("__")]
    assert sorted(saved) == sorted(weights)
    for name in weights:
        np.testing.assert_array_equal(saved[name], w0[name], err_msg=name)
    check_small_data_state(chief)


def check_small_data_state(chief):
    """The ADA and LeCam state of the two-worker run: one value on every replica, following ADA's
    rule from the logged r_t of both workers' images. (One device against two replicas in one
    process: tests/training/test_small_data.py.)"""
    ckpt = checkpoint_tensors(str(chief / "checkpoints" / "ckpt-6"))
    state = {name: float(ckpt[f"regularization/{name}/.ATTRIBUTES/VARIABLE_VALUE"]) for name in REGULARIZATION}
    # The logged values are means over all replicas of both workers and the checkpoint holds the
    # chief's: equal means worker 1 held the same (a mean (a + b) / 2 equals a only for b = a). ADA's
    # rule holds for the logged r_t of each interval, a mean of 32 signs of both workers' real
    # images (one worker's 16 alone would move p by 0.016).
    p = check_logged_regularization(read_events(chief / "train")[0], ckpt, 6, 1e-6)
    assert p != pytest.approx(0.3)
    assert state["ada_count"] == 0 and state["ada_sign_sum"] == 0  # an interval just ended
    assert state["lecam_updates"] == 12  # 6 steps x 2 D updates, counted once, not once per worker


@pytest.mark.slow  # the same agreement between two replicas of one process: test_loss_scaling.py
def test_float16_overflow_on_one_worker_skips_the_step_on_both(tmp_path, tfds_dir):
    """Worker 1's losses are NaN in step 3 (worker 0's are finite): both workers skip every update of
    that step (one decision; Keras alone would let worker 0 apply and wait for worker 1 forever),
    count it, train the other five and end identical."""
    logdirs = [tmp_path / "chief_run", tmp_path / "worker1_run"]
    outs = [tmp_path / "w0.npz", tmp_path / "w1.npz"]
    float16 = ("train.precision=mixed_float16", "train.loss_scale=256", "model.sync_bn=false")
    results = wait_all(start_workers(logdirs, outs, 6, tfds_dir, *float16, poison="1:2"))
    for code, err in results:
        assert code == 0, err[-3000:]
    w0, w1 = np.load(outs[0]), np.load(outs[1])
    d_steps = config_lib.load(logdirs[0] / "config.yaml").train.d_steps  # as the chief recorded the run
    for w in (w0, w1):
        assert int(w["__step__"]) == 6 and int(w["__g_updates__"]) == 5 and int(w["__d_updates__"]) == 5 * d_steps
    assert str(w0["__policy__"]) == str(w1["__policy__"]) == "mixed_float16"
    for name in w0.files:
        if "/moving_" not in name and name != "__policy__":  # unsynchronized BN statistics are per replica by design
            assert np.all(np.isfinite(w0[name])), name
            np.testing.assert_array_equal(w0[name], w1[name], err_msg=name)


def test_auto_precision_is_decided_once_for_the_cluster(tmp_path, tfds_dir):
    """Worker 1's CPU has AVX512-BF16 (``auto`` alone would pick mixed_bfloat16 there), the chief's
    has neither it nor AMX-BF16: the cluster trains in float32 on both, worker 1 says in one line that
    it follows the cluster, and both end identical."""
    logdirs = [tmp_path / "chief_run", tmp_path / "worker1_run"]
    outs = [tmp_path / "w0.npz", tmp_path / "w1.npz"]
    procs = start_workers(logdirs, outs, 2, tfds_dir, "train.precision=auto", cpu_flags=[["avx2"], ["avx2", "avx512_bf16"]])
    (code0, err0), (code1, err1) = wait_all(procs)
    assert code0 == 0 and code1 == 0, (err0[-3000:], err1[-3000:])
    lines = [[line for line in err.splitlines() if line.startswith("precision auto")] for err in (err0, err1)]
    assert lines[0] == ["precision auto: float32 (CPU without AMX-BF16 or AVX512-BF16)"]
    assert lines[1] == [
        "precision auto: float32 (the cluster's choice: 1 of its 2 replicas run on hardware without fast bfloat16; "
        "this worker alone would train in mixed_bfloat16: CPU with AVX512-BF16)"
    ]
    w0, w1 = np.load(outs[0]), np.load(outs[1])
    assert str(w0["__policy__"]) == str(w1["__policy__"]) == "float32"
    assert int(w0["__step__"]) == int(w1["__step__"]) == 2
    for name in w0.files:
        np.testing.assert_array_equal(w0[name], w1[name], err_msg=name)
    (session,) = json.loads((logdirs[0] / "training.json").read_text())["sessions"]
    assert session["precision"] == "float32"
    assert config_lib.load(logdirs[0] / "config.yaml").train.precision == "auto"  # decided again on every start
