"""float16 loss scaling under MirroredStrategy: one skip decision for all replicas.

Keras' LossScaleOptimizer decides from the first replica's own gradients; these tests make only
replica 1 overflow and check that no replica changes anything, that every replica halves its scale,
and that the next finite steps train, with the optimizer alone, the training loop and ``fit``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.training.builders import build_sagan
from sagan_tf.training.divergence import divergence
from sagan_tf.training.gan import SAGAN
from sagan_tf.training.loop import make_step_function
from sagan_tf.training.loss_scaling import ReplicaSafeLossScaleOptimizer, replica_safe
from tests.helpers.training import batches, precision_config

SCALE = 2.0**8  # small enough that this model's clean float16 gradients stay finite


def replica_values(variable, strategy):
    value = variable.value if isinstance(variable, keras.Variable) else variable
    return [t.numpy() for t in strategy.experimental_local_results(value)]


def snapshot(variables, strategy):
    return {v.path: replica_values(v, strategy) for v in variables}


def assert_same_on_replicas(variables, strategy, except_local_statistics=False):
    """Every variable finite and identical on all replicas; ``except_local_statistics``: not the BN
    moving statistics, which unsynchronized batch norm keeps per replica by design."""
    for v in variables:
        first, *others = replica_values(v, strategy)
        assert np.all(np.isfinite(first)), v.path
        if except_local_statistics and "/moving_" in v.path:
            continue
        for other in others:
            np.testing.assert_array_equal(other, first, err_msg=v.path)


@pytest.mark.parametrize("inner", [keras.optimizers.SGD, keras.optimizers.Adam])
def test_an_inf_on_one_replica_skips_the_update_on_every_replica(mirrored, inner):
    with mirrored.scope():
        var = keras.Variable(np.ones(3, np.float32), name="w")
        opt = ReplicaSafeLossScaleOptimizer(inner(0.1), initial_scale=SCALE)
        opt.build([var])
    poison = tf.Variable(True)

    @tf.function
    def step():
        def replica_fn():
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            bad = tf.logical_and(poison, tf.equal(replica, 1))
            grad = tf.where(bad, tf.constant([np.inf, 1.0, 1.0]), tf.constant([1.0, 1.0, 1.0]))
            opt.apply_gradients([(grad, var)])

        mirrored.run(replica_fn)

    before = snapshot(opt.variables, mirrored)
    step()
    for rep in replica_values(var, mirrored):
        np.testing.assert_array_equal(rep, [1.0, 1.0, 1.0])
    after = snapshot(opt.variables, mirrored)
    for path, values in after.items():
        if path.endswith("dynamic_scale"):
            assert [float(x) for x in values] == [SCALE / 2] * 2
        else:
            for old, new in zip(before[path], values, strict=True):
                np.testing.assert_array_equal(new, old, err_msg=path)
    assert int(opt.iterations.numpy()) == 0

    poison.assign(False)
    step()
    first, second = replica_values(var, mirrored)
    np.testing.assert_array_equal(first, second)
    assert np.all(first < 1.0) and int(opt.iterations.numpy()) == 1


def test_plain_loss_scale_optimizers_are_made_replica_safe():
    plain = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3), initial_scale=64.0, dynamic_growth_steps=7)
    safe = replica_safe(plain)
    assert type(safe) is ReplicaSafeLossScaleOptimizer
    assert (safe.initial_scale, safe.dynamic_growth_steps) == (64.0, 7) and safe.inner_optimizer is plain.inner_optimizer
    adam = keras.optimizers.Adam()
    assert replica_safe(adam) is adam
    model = build_sagan(precision_config("float32"))
    model.compile(g_optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam()), d_optimizer=adam)
    assert type(model.g_optimizer) is ReplicaSafeLossScaleOptimizer and model.d_optimizer is adam


def poison_replica_one(model: SAGAN) -> tf.Variable:
    """Makes replica 1's noise overflow float16 while the returned flag is true: G's images, D's
    scores and both losses become NaN on that replica only, in the D and the G update alike."""
    poison = tf.Variable(False)
    clean_noise = model.noise

    def noise(batch, phase, step=None):
        z = clean_noise(batch, phase, step)
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        return tf.where(tf.logical_and(poison, tf.equal(replica, 1)), z * 1e30, z)

    model.noise = noise
    return poison


def state_of(model):
    networks = model.generator.variables + model.discriminator.variables + model.ema.generator.variables
    return networks + model.g_optimizer.variables + model.d_optimizer.variables


def check_poisoned_step_changed_nothing(model, strategy, before, logs):
    assert_same_on_replicas(state_of(model), strategy)
    after = snapshot(state_of(model), strategy)
    for path, values in after.items():
        if path.endswith("dynamic_scale"):
            assert [float(x) for x in values] == [SCALE / 2] * 2, path
        else:
            for old, new in zip(before[path], values, strict=True):
                np.testing.assert_array_equal(new, old, err_msg=path)
    assert float(logs["d_skipped"]) == 1.0 and float(logs["g_skipped"]) == 1.0
    assert not np.isfinite(float(logs["d_loss"]))
    assert int(model.g_optimizer.iterations.numpy()) == 0 and int(model.d_optimizer.iterations.numpy()) == 0


def check_later_steps_train(model, strategy, before, steps):
    assert_same_on_replicas(state_of(model), strategy, except_local_statistics=True)
    moved = sum(
        not np.array_equal(replica_values(v, strategy)[0], before[v.path][0])
        for v in model.generator.trainable_variables + model.discriminator.trainable_variables
    )
    assert moved > 30
    assert int(model.g_optimizer.iterations.numpy()) == steps and int(model.d_optimizer.iterations.numpy()) == steps


def float16_model(strategy):
    cfg = precision_config("mixed_float16")
    cfg.model.sync_bn = False  # synchronized batch statistics would carry replica 1's NaN to replica 0
    keras.utils.set_random_seed(5)
    with strategy.scope():
        model = build_sagan(cfg)
    for opt in (model.g_optimizer, model.d_optimizer):
        opt.dynamic_scale.assign(SCALE)
    return model


def test_one_replica_overflowing_in_the_training_loop_changes_nothing_anywhere(mirrored):
    model = float16_model(mirrored)
    poison = poison_replica_one(model)
    step_fn = make_step_function(model, mirrored)
    iterator = iter(mirrored.experimental_distribute_dataset(batches()))
    before = snapshot(state_of(model), mirrored)

    poison.assign(True)
    logs = step_fn(iterator)
    check_poisoned_step_changed_nothing(model, mirrored, before, logs)
    assert int(model.step.numpy()) == 1  # the step is counted: its batch and its noise were used

    poison.assign(False)
    for _ in range(2):
        logs = step_fn(iterator)
    assert float(logs["d_skipped"]) == 0.0 and float(logs["g_skipped"]) == 0.0
    check_later_steps_train(model, mirrored, before, steps=2)
    assert int(model.step.numpy()) == 3


def test_one_replica_overflowing_under_fit_changes_nothing_anywhere(mirrored):
    model = float16_model(mirrored)
    poison = poison_replica_one(model)
    data = batches(16)
    before = snapshot(state_of(model), mirrored)

    poison.assign(True)
    history = model.fit(data, steps_per_epoch=1, epochs=1, verbose=0)
    check_poisoned_step_changed_nothing(model, mirrored, before, {k: v[-1] for k, v in history.history.items()})

    poison.assign(False)
    history = model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
    assert history.history["g_skipped"][-1] == 0.0
    check_later_steps_train(model, mirrored, before, steps=2)
    assert int(model.step.numpy()) == 3


def test_a_skipped_update_with_a_nan_loss_is_not_divergence_but_a_vanishing_scale_is():
    assert divergence({"d_loss": 1.2, "g_loss": 0.3}) is None
    assert "d_loss=nan" in divergence({"d_loss": float("nan"), "g_loss": 0.3})
    assert divergence({"d_loss": float("nan"), "d_skipped": 1.0, "g_loss": 0.3, "g_skipped": 0.0}) is None
    assert "g_loss=inf" in divergence({"d_loss": 0.1, "d_skipped": 1.0, "g_loss": float("inf"), "g_skipped": 0.0})
    assert "loss_scale_g=0.5" in divergence({"d_loss": 0.1, "g_loss": 0.3, "loss_scale_g": 0.5, "loss_scale_d": 8.0})
