"""EMA generator: the analytic EMA of the recorded weights, identical replicas, checkpoints, loading."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.runs.checkpointing import Checkpointer
from sagan_tf.runs.run_dir import CHECKPOINT_DIR, CONFIG_FILE, load_generator
from sagan_tf.training.builders import build_sagan
from sagan_tf.training.loop import make_step_function
from tests.helpers.training import fake_batch, tiny_config

DECAY, START, STEPS = 0.8, 2, 5


def ema_config(**train):
    return tiny_config(ema_decay=DECAY, ema_start=START, **train)


def local_values(variable, strategy):
    return [t.numpy() for t in strategy.experimental_local_results(variable.value)]


def test_shadow_covers_weights_bn_statistics_and_sn_u():
    model = build_sagan(ema_config())
    raw = [v.path for v, _ in model.ema.variable_pairs]
    assert raw == [v.path for v in model.generator.variables]  # every G variable (all are float)
    assert any("moving_mean" in p for p in raw) and any("moving_variance" in p for p in raw)
    assert any(p.endswith("sn_u") for p in raw) and any(p.endswith("gamma") for p in raw)
    assert not model.ema.generator.trainable_variables  # the optimizer never touches the shadow


def test_ema_equals_analytic_ema_on_two_replicas(mirrored):
    """After each step: shadow = d_s * shadow + (1 - d_s) * raw_s with d_s = 0 for s <= start."""
    strategy = mirrored
    keras.utils.set_random_seed(3)
    with strategy.scope():
        model = build_sagan(ema_config())
    images, labels = fake_batch(16)
    dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    step_fn = make_step_function(model, strategy)

    pairs = model.ema.variable_pairs
    expected = [raw.numpy().astype(np.float64) for raw, _ in pairs]  # the shadow starts as a copy of G
    for step in range(1, STEPS + 1):
        step_fn(iterator)
        d = 0.0 if step <= START else DECAY
        expected = [d * e + (1 - d) * raw.numpy() for e, (raw, _) in zip(expected, pairs, strict=True)]
    assert int(model.step.numpy()) == STEPS

    moved = 0
    for e, (raw, shadow) in zip(expected, pairs, strict=True):
        first, second = local_values(shadow, strategy)
        np.testing.assert_array_equal(first, second, err_msg=shadow.path)  # identical on both replicas
        np.testing.assert_allclose(first, e, rtol=1e-5, atol=1e-6, err_msg=shadow.path)
        moved += not np.allclose(first, raw.numpy(), rtol=1e-5, atol=1e-6)
    assert moved > len(pairs) // 2  # the shadow really lags behind G (not a copy)


def test_ema_changes_neither_initialisation_nor_training_of_g_and_d():
    """Same seed with and without EMA: bit-identical G and D before and after a step."""
    weights = []
    for decay in (0.0, 0.5):
        keras.utils.set_random_seed(5)
        model = build_sagan(tiny_config(ema_decay=decay, ema_start=0))
        before = [v.numpy() for v in model.generator.variables + model.discriminator.variables]
        tf.function(model.train_step)(fake_batch())
        weights.append(before + [v.numpy() for v in model.generator.variables + model.discriminator.variables])
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_ema_start_zero_averages_from_the_first_step():
    model = build_sagan(tiny_config(ema_decay=0.5, ema_start=0))
    raw, shadow = model.ema.variable_pairs[0]
    before = raw.numpy().copy()
    tf.function(model.train_step)(fake_batch())
    np.testing.assert_allclose(shadow.numpy(), 0.5 * before + 0.5 * raw.numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(raw.numpy(), before)


def write_run(logdir, model, cfg, step):
    (logdir / CHECKPOINT_DIR).mkdir(parents=True)
    config_lib.save(cfg, logdir / CONFIG_FILE)
    return Checkpointer(model, str(logdir / CHECKPOINT_DIR), keep=1).save(step)


def test_checkpoint_restores_shadow_and_load_generator_prefers_it(tmp_path):
    cfg = ema_config()
    model = build_sagan(cfg)
    step = tf.function(model.train_step)  # traced once
    for _ in range(STEPS):
        step(fake_batch())
    write_run(tmp_path, model, cfg, STEPS)

    resumed = build_sagan(cfg)
    assert Checkpointer(resumed, str(tmp_path / CHECKPOINT_DIR), keep=1).restore_latest()
    for (_, a), (_, b) in zip(model.ema.variable_pairs, resumed.ema.variable_pairs, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{a.path} {b.path}")

    z, labels = tf.random.normal([4, 16], seed=1), tf.constant([0, 1, 2, 3])
    ema_g, _ = load_generator(tmp_path)
    raw_g, _ = load_generator(tmp_path, ema=False)
    assert (ema_g.name, raw_g.name) == ("generator_ema", "generator")
    want_ema = model.ema.generator((z, labels), training=False).numpy()
    want_raw = model.generator((z, labels), training=False).numpy()
    np.testing.assert_allclose(ema_g((z, labels), training=False).numpy(), want_ema, atol=1e-6)
    np.testing.assert_allclose(raw_g((z, labels), training=False).numpy(), want_raw, atol=1e-6)
    assert np.abs(want_ema - want_raw).max() > 1e-4


def test_run_without_ema_resumes_with_shadow_copied_from_g_and_loads_raw_g(tmp_path):
    cfg = tiny_config(ema_decay=0.0)
    model = build_sagan(cfg)
    assert model.ema is None and model.sampling_generator is model.generator
    tf.function(model.train_step)(fake_batch())
    path = write_run(tmp_path, model, cfg, 1)
    assert "generator_ema" not in str(tf.train.list_variables(path))
    assert load_generator(tmp_path)[0].name == "generator"  # falls back to the raw G

    with_ema = build_sagan(ema_config())
    Checkpointer(with_ema, str(tmp_path / CHECKPOINT_DIR), keep=1).restore_latest()
    for raw, shadow in with_ema.ema.variable_pairs:
        np.testing.assert_array_equal(raw.numpy(), shadow.numpy())
    np.testing.assert_array_equal(with_ema.generator.variables[0].numpy(), model.generator.variables[0].numpy())


@pytest.mark.parametrize("key,value", [("train.ema_decay", 1.0), ("train.ema_decay", -0.1), ("train.ema_start", -1)])
def test_bad_ema_config_is_a_config_error(key, value):
    with pytest.raises(config_lib.ConfigError, match=key.replace(".", r"\.")):
        config_lib.apply_overrides(config_lib.Config(), [f"{key}={value}"])
