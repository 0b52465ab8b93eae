"""Runs trained by sagan_tf 0.2.0 (``tests/assets/legacy_runs``, its README says how they were made)
restore into the current code and produce what that code computed from them: the same variable
paths, the same images of the raw and the EMA generator (inference and training mode), the same D
logits, and, resumed for one more step, the same generator.

Tolerances: the fast forms (``ops="fast"``) are the computations 0.2.0 ran, op for op, so they agree
to float32 rounding of sums taken in another order: 1e-5 of images in [-1, 1] and of logits of
order 10. The reference forms compute the same functions in the paper's order of operations
(upsample, then convolve; convolve, then pool): 1e-4. One resumed step compounds both through Adam's
first update (which moves each weight by about lr whatever the gradient's size): 1e-4.
"""

import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers.running_state import frozen_state
from sagan_tf.runs.checkpointing import Checkpointer
from sagan_tf.runs.run_dir import CHECKPOINT_DIR, latest_checkpoint, load_generator, load_run_config
from sagan_tf.trainer import Trainer
from sagan_tf.training.builders import build_sagan
from tests.helpers import REPO

LEGACY = REPO / "tests" / "assets" / "legacy_runs"
RUNS = ["resnet", "dcgan"]
TOLERANCE = {"fast": 1e-5, "reference": 1e-4}


def _outputs(name: str) -> dict[str, np.ndarray]:
    with np.load(LEGACY / f"{name}_outputs.npz") as stored:
        return dict(stored)


@pytest.mark.parametrize("name", RUNS)
def test_a_checkpoint_of_the_current_code_has_the_legacy_variable_paths_and_shapes(name, tmp_path):
    cfg = load_run_config(LEGACY / name)
    keras.utils.set_random_seed(0)
    model = build_sagan(cfg)
    Checkpointer(model, str(tmp_path), 1).save(3)
    current = dict(tf.train.list_variables(tf.train.latest_checkpoint(str(tmp_path))))
    legacy = dict(tf.train.list_variables(latest_checkpoint(LEGACY / name)))
    assert current == legacy


@pytest.mark.parametrize("ops", ["fast", "reference"])
@pytest.mark.parametrize("name", RUNS)
def test_the_generators_draw_the_legacy_images(name, ops):
    stored = _outputs(name)
    z, labels = tf.constant(stored["z"]), tf.constant(stored["labels"])
    for network, ema in (("generator", False), ("ema", True)):
        generator, _ = load_generator(LEGACY / name, ema=ema, ops=ops)
        assert str(generator.ops) == ops
        inference = generator((z, labels), training=False).numpy()
        np.testing.assert_allclose(inference, stored[f"{network}_inference"], rtol=0, atol=TOLERANCE[ops],
                                   err_msg=f"{network} inference")
        with frozen_state():
            training = generator((z, labels), training=True).numpy()
        np.testing.assert_allclose(training, stored[f"{network}_training"], rtol=0, atol=TOLERANCE[ops],
                                   err_msg=f"{network} training")
    assert np.abs(stored["generator_inference"] - stored["ema_inference"]).max() > 1e-3  # two different networks


@pytest.mark.parametrize("ops", ["fast", "reference"])
@pytest.mark.parametrize("name", RUNS)
def test_the_discriminator_gives_the_legacy_logits(name, ops):
    stored = _outputs(name)
    cfg = load_run_config(LEGACY / name)
    cfg.model.ops = ops
    keras.utils.set_random_seed(0)
    model = build_sagan(cfg)
    assert Checkpointer(model, str(LEGACY / name / CHECKPOINT_DIR), 1, chief=False).restore_latest()
    assert int(model.step.numpy()) == 3
    images, labels = tf.constant(stored["d_images"]), tf.constant(stored["labels"])
    scale = np.abs(stored["d_inference"]).max()
    d = model.discriminator
    np.testing.assert_allclose(d((images, labels), training=False).numpy(), stored["d_inference"], rtol=0,
                               atol=TOLERANCE[ops] * max(scale, 1.0))
    with frozen_state():
        training = d((images, labels), training=True).numpy()
    np.testing.assert_allclose(training, stored["d_training"], rtol=0, atol=TOLERANCE[ops] * max(scale, 1.0))


@pytest.mark.parametrize("name", RUNS)
def test_a_legacy_run_resumes_as_it_did(name, tmp_path, tfds_dir, capfd):
    run = tmp_path / name
    shutil.copytree(LEGACY / name, run)
    Trainer(None, run, deterministic=True, data_dir=tfds_dir, verbose=0).train(steps=4)
    assert f"resuming from {run / CHECKPOINT_DIR / 'ckpt-3'} at step 3" in capfd.readouterr().err
    with np.load(LEGACY / f"{name}_resumed.npz") as resumed:
        want = resumed["generator_inference"]
    stored = _outputs(name)
    generator, _ = load_generator(run, ema=False)
    got = generator((tf.constant(stored["z"]), tf.constant(stored["labels"])), training=False).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    assert np.abs(want - stored["generator_inference"]).max() > 1e-4  # the step changed G
