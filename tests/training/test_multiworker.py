"""Two worker processes on 127.0.0.1 under MultiWorkerMirroredStrategy (``--strategy multiworker``)."""

import os
import subprocess
import sys

import numpy as np

from sagan_tf import config as config_lib
from sagan_tf.training.checkpointing import read_variables
from tests.helpers import REPO
from tests.helpers.cli import TINY, free_ports


def start_workers(logdirs, outs, steps, tfds_dir, *extra, poison=None):
    ports = ",".join(str(p) for p in free_ports(2))
    env = dict(os.environ, TFDS_DATA_DIR=tfds_dir, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    if poison:
        env["SAGAN_TEST_POISON"] = poison
    return [
        subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.multiworker_worker", str(i), ports, str(logdirs[i]), str(outs[i]),
             str(steps), *TINY, "train.batch_size=8", *extra],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
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
    results = wait_all(start_workers(logdirs, outs, 6, tfds_dir))
    for code, err in results:
        assert code == 0, err[-3000:]
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
    for name in w0.files:
        if "/moving_" not in name:  # unsynchronized BN statistics are per replica by design
            assert np.all(np.isfinite(w0[name])), name
            np.testing.assert_array_equal(w0[name], w1[name], err_msg=name)
