"""Surviving faults: SIGKILL and exact resume, divergence guard, bad input, determinism."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from sagan_tf.runs.checkpointing import read_variables
from tests.helpers import REPO
from tests.helpers.cli import TINY, TRAIN_SETTINGS, assert_same_training, run_cli, train_args


def disk_state(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.rglob("*")) if p.is_file()}


FLOAT16_WITH_SKIPS = ("train.precision=mixed_float16", "train.loss_scale=1e9")  # overflows, then halves


# float32 is slow (a minute): mixed_float16 takes the same path and also skips and rescales updates.
@pytest.mark.parametrize("precision", [pytest.param((), marks=pytest.mark.slow), FLOAT16_WITH_SKIPS],
                         ids=["float32", "mixed_float16"])
def test_sigkill_then_same_command_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path, tfds_dir, precision):
    steps = 30
    straight = tmp_path / "straight"
    result = run_cli("sagan_tf.train", *train_args(straight, steps, *precision), tfds_dir=tfds_dir)
    assert result.returncode == 0, result.stderr[-3000:]

    killed = tmp_path / "killed"
    env = dict(os.environ, TFDS_DATA_DIR=tfds_dir, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sagan_tf.train", *train_args(killed, steps, *precision)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        latest = tf.train.latest_checkpoint(str(killed / "checkpoints"))
        if latest and int(latest.rsplit("-", 1)[1]) >= 10:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    latest = tf.train.latest_checkpoint(str(killed / "checkpoints"))
    killed_at = int(latest.rsplit("-", 1)[1])
    assert proc.returncode == -signal.SIGKILL and 10 <= killed_at < steps, "the run was not cut short"

    resumed = run_cli("sagan_tf.train", *train_args(killed, steps, *precision), tfds_dir=tfds_dir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"at step {killed_at}" in resumed.stderr

    # Determinism: the same weights, and identical losses at every step, before and after the kill.
    la = assert_same_training(straight, killed, steps)
    if precision:  # updates were skipped before the kill, yet every step was counted and logged once
        skipped = [s for s in range(1, killed_at + 1) if la["g_skipped"][s] or la["d_skipped"][s]]
        assert skipped and sorted(la["g_skipped"]) == list(range(1, steps + 1))


def test_divergence_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, tfds_dir):
    logdir = tmp_path / "run"
    first = run_cli("sagan_tf.train", *train_args(logdir, 5), tfds_dir=tfds_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    before = disk_state(logdir / "checkpoints")
    # The same run continued with a learning rate that blows D up at the next step.
    diverged = run_cli("sagan_tf.train", *train_args(logdir, 20, "train.d_lr=1e38"), tfds_dir=tfds_dir)
    assert diverged.returncode == 2
    errors = [line for line in diverged.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "training diverged at step 6" in errors[0], diverged.stderr[-2000:]
    assert disk_state(logdir / "checkpoints") == before
    values = read_variables(tf.train.latest_checkpoint(str(logdir / "checkpoints")), "discriminator")
    assert all(np.all(np.isfinite(v)) for v in values.values())


def write_png(path, seed, size=32):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(path)


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "images"
    for c in range(2):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(8):
            write_png(root / f"class{c}" / f"{i}.png", 10 * c + i)
    return root


def folder_args(logdir, root, *extra):
    return [
        "--config", "configs/fashion_mnist32.yaml", "--logdir", str(logdir), "--steps", "2", "--verbose", "0",
        "--set", *TINY, "train.batch_size=4", "data.source=folder", f"data.path={root}", "data.num_classes=2",
        *extra,
    ]


def one_error_line(result):
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


def test_a_non_image_file_in_a_folder_fails_clearly_or_is_skipped_with_a_count(tmp_path, image_folder):
    bad = image_folder / "class1" / "broken.png"
    bad.write_bytes(b"<html>not an image</html>")
    line = one_error_line(run_cli("sagan_tf.train", *folder_args(tmp_path / "a", image_folder)))
    assert "1 file(s)" in line and str(bad) in line and "data.skip_corrupt" in line
    assert not (tmp_path / "a").exists()

    skipped = run_cli("sagan_tf.train", *folder_args(tmp_path / "b", image_folder, "data.skip_corrupt=true"))
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert "skipping 1 unreadable image file(s)" in skipped.stderr


def test_an_image_with_a_damaged_body_is_named(tmp_path, image_folder):
    damaged = image_folder / "class0" / "3.png"
    damaged.write_bytes(damaged.read_bytes()[:60])  # valid PNG header, body cut off
    line = one_error_line(run_cli("sagan_tf.train", *folder_args(tmp_path / "run", image_folder)))
    assert "cannot decode image(s)" in line and str(damaged) in line


def test_labels_outside_the_class_range_stop_training_with_one_line(tmp_path, monkeypatch):
    from sagan_tf.data import pipeline as data
    from sagan_tf.errors import DataError
    from sagan_tf.trainer import Trainer

    def source_with_a_bad_label(cfg, data_dir=None, seed=0):
        images = np.zeros((16, 28, 28, 1), np.uint8)  # one step: batch 8 for each of the recipe's 2 D updates
        labels = np.array([0, 1, 2, 3, 12, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5], np.int32)
        return data.Source(tf.data.Dataset.from_tensor_slices((images, labels)), 16)

    monkeypatch.setattr(data, "load_source", source_with_a_bad_label)
    trainer = Trainer("configs/fashion_mnist32.yaml", tmp_path / "run", overrides=TRAIN_SETTINGS, verbose=0)
    with pytest.raises(DataError) as raised:  # in-process, so not deterministic (a process-wide switch)
        trainer.train(3)
    line = str(raised.value)
    assert len(line.splitlines()) == 1
    assert line.startswith("bad training data:") and "label >= data.num_classes (10)" in line


def test_an_unwritable_logdir_is_one_line_and_writes_nothing(tmp_path, tfds_dir):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    line = one_error_line(run_cli("sagan_tf.train", *train_args(blocker / "run", 2), tfds_dir=tfds_dir))
    assert "cannot write to --logdir" in line
    assert blocker.read_text() == "not a directory"
