"""Checkpoints: complete state, atomic writes, fallback past unreadable files, no diverged state."""

import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.errors import CheckpointError, DivergenceError
from sagan_tf.runs.checkpointing import Checkpointer, read_variables, step_of, training_checkpoint
from sagan_tf.training.builders import build_sagan
from tests.helpers import REPO
from tests.helpers.training import fake_batch, tiny_config


def trained_model(steps=2, seed=0, **train):
    keras.utils.set_random_seed(seed)
    model = build_sagan(tiny_config(**train))
    step = tf.function(model.train_step)
    for _ in range(steps):
        step(fake_batch())
    return model


def all_state(model):
    """Every variable a resumed run depends on, by a stable name."""
    state = {f"g/{v.path}": v.numpy() for v in model.generator.variables}
    state.update({f"d/{v.path}": v.numpy() for v in model.discriminator.variables})
    for name, opt in (("g_opt", model.g_optimizer), ("d_opt", model.d_optimizer)):
        state.update({f"{name}/{i}/{v.path}": v.numpy() for i, v in enumerate(opt.variables)})
    return state


def test_restore_brings_back_every_variable_including_non_trainable_state(tmp_path):
    model = trained_model()
    Checkpointer(model, str(tmp_path), keep=2).save(2)
    saved = all_state(model)
    # Non-trainable state inside G's blocks (BN moving statistics, SN u) is part of it.
    assert any("block0_8/cbn1/batch_norm/moving_mean" in k for k in saved)
    assert any("block1_16/sn_conv2/sn_u" in k for k in saved)

    keras.utils.set_random_seed(99)
    fresh = build_sagan(tiny_config())
    before = all_state(fresh)
    assert Checkpointer(fresh, str(tmp_path), keep=2).restore_latest().endswith("ckpt-2")
    after = all_state(fresh)
    assert sorted(after) == sorted(saved)
    differing_before = [k for k in saved if not np.array_equal(before[k], saved[k])]
    assert len(differing_before) > 100  # the fresh model really started elsewhere
    for k in saved:
        np.testing.assert_array_equal(after[k], saved[k], err_msg=k)
    assert int(fresh.step.numpy()) == 2 and int(fresh.d_optimizer.iterations.numpy()) == 2


def test_a_checkpoint_without_the_step_counter_resumes_at_the_step_in_its_name(tmp_path):
    """Checkpoints written before the step counter existed are named ``ckpt-<step>``; G's update
    count is lower when float16 updates were skipped (here 3 updates, step 5)."""
    model = trained_model(steps=3)
    assert int(model.g_optimizer.iterations.numpy()) == 3
    tf.train.CheckpointManager(training_checkpoint(model, step=False), str(tmp_path), 2).save(checkpoint_number=5)
    fresh = build_sagan(tiny_config())
    assert Checkpointer(fresh, str(tmp_path), keep=2).restore_latest() == str(tmp_path / "ckpt-5")
    assert int(fresh.step.numpy()) == 5 and int(fresh.g_optimizer.iterations.numpy()) == 3
    # A name without a number (written by hand): G's update count is all there is.
    assert step_of(str(tmp_path / "weights"), model) == 3 and step_of(str(tmp_path / "ckpt-12"), model) == 12


def test_read_variables_names_every_generator_variable(tmp_path):
    model = trained_model(steps=1)
    path = Checkpointer(model, str(tmp_path), keep=1).save(1)
    values = read_variables(path, "generator")
    expected = {v.path.split("/", 1)[1]: v.numpy() for v in model.generator.variables}
    assert sorted(values) == sorted(expected)
    for k, v in expected.items():
        np.testing.assert_array_equal(values[k], v)


def test_a_checkpoint_of_another_model_is_an_error(tmp_path):
    Checkpointer(trained_model(steps=1), str(tmp_path), keep=1).save(1)
    cfg = tiny_config()
    cfg.model.ch = 8
    other = build_sagan(cfg)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        Checkpointer(other, str(tmp_path), keep=1).restore_latest()


def test_unreadable_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
    model = trained_model(steps=1)
    checkpointer = Checkpointer(model, str(tmp_path), keep=3)
    checkpointer.save(1)
    first = all_state(model)
    tf.function(model.train_step)(fake_batch())
    newest = checkpointer.save(2)
    data = [f for f in os.listdir(tmp_path) if f.startswith("ckpt-2.data")]
    with open(tmp_path / data[0], "r+b") as f:  # damage the newest checkpoint's data
        f.truncate(100)
    fresh = build_sagan(tiny_config())
    restored = Checkpointer(fresh, str(tmp_path), keep=3).restore_latest()
    assert restored.endswith("ckpt-1") and newest.endswith("ckpt-2")
    assert "ckpt-2 is unreadable" in capsys.readouterr().err
    after = all_state(fresh)
    for k in first:
        np.testing.assert_array_equal(after[k], first[k], err_msg=k)


def test_diverged_weights_are_never_written(tmp_path):
    model = trained_model(steps=1)
    checkpointer = Checkpointer(model, str(tmp_path), keep=3)
    checkpointer.save(1)
    model.generator.blocks[0].conv1.layer.kernel.assign(
        tf.fill(model.generator.blocks[0].conv1.layer.kernel.shape, float("nan"))
    )
    with pytest.raises(DivergenceError, match="step 2"):
        checkpointer.save(2)
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-1")
    assert not [f for f in os.listdir(tmp_path) if f.startswith("ckpt-2")]


WRITER = """
import sys, keras, numpy as np, tensorflow as tf
from sagan_tf.training.builders import build_sagan
from sagan_tf.runs.checkpointing import Checkpointer
from tests.helpers.training import tiny_config
cfg = tiny_config()
cfg.model.ch = 48  # ~15 MB of variables: each save takes long enough to be cut in the middle
model = build_sagan(cfg)
checkpointer = Checkpointer(model, sys.argv[1], keep=3)
step = int(sys.argv[2])
while True:
    step += 1
    for v in model.generator.trainable_variables[:4]:
        v.assign(tf.fill(v.shape, float(step)))
    checkpointer.save(step)
    print(step, flush=True)
"""


def test_a_write_killed_midway_is_never_loaded(tmp_path):
    """SIGKILL a process while it writes checkpoints in a loop, several times; every time the
    newest checkpoint named by the index restores completely and holds the values of its step."""
    directory = tmp_path / "ckpts"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    rng = np.random.default_rng(0)
    last = 0
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(directory), str(last)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        first_line = proc.stdout.readline()  # the first save completed
        assert first_line.strip(), "the writer did not start"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        latest = tf.train.latest_checkpoint(str(directory))
        step = int(latest.rsplit("-", 1)[1])
        assert step > last
        values = read_variables(latest, "generator")
        kernel = values["sn_linear/linear/kernel"]
        assert np.all(kernel == float(step)), (round_, step)
        last = step
