"""The SAGAN training step: hinge losses, replica equivalence, noise per replica, SN bookkeeping."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers import SpectralNormalization
from sagan_tf.training.builders import build_sagan
from sagan_tf.training.gan import hinge_d_loss, hinge_g_loss
from tests.helpers.training import copy_weights, fake_batch, model_and_reference_logits, tiny_config


def test_hinge_losses_closed_form():
    real = tf.constant([2.0, 0.5, -1.0])
    fake = tf.constant([-2.0, 0.0, 1.5])
    loss_real, loss_fake = hinge_d_loss(real, fake)
    np.testing.assert_allclose(loss_real.numpy(), [0.0, 0.5, 2.0])
    np.testing.assert_allclose(loss_fake.numpy(), [0.0, 1.0, 2.5])
    np.testing.assert_allclose(hinge_g_loss(fake).numpy(), [2.0, 0.0, -1.5])


def test_train_step_logs_match_hinge_of_the_networks():
    """d_loss/g_loss of a step equal the hinge losses recomputed from the same z, labels, weights."""
    model, _, images, labels, real_l, fake_l = model_and_reference_logits(tiny_config())
    expected_d = np.maximum(0, 1 - real_l).mean() + np.maximum(0, 1 + fake_l).mean()
    logs = tf.function(model.train_step)((images, labels))
    np.testing.assert_allclose(float(logs["d_loss"]), expected_d, rtol=1e-5)
    np.testing.assert_allclose(float(logs["d_real"]), real_l.mean(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(logs["d_fake"]), fake_l.mean(), rtol=1e-5, atol=1e-6)
    assert float(logs["lr_g"]) == pytest.approx(1e-4) and float(logs["lr_d"]) == pytest.approx(4e-4)
    assert {"gamma_g_attention_16", "gamma_d_attention_16"} <= set(logs)
    assert int(model.step.numpy()) == 1


def sgd_sagan(cfg):
    """A SAGAN with plain SGD: its update is linear in the gradient, so a gradient scaled by the
    replica count would show (Adam, being scale invariant, would hide it)."""
    model = build_sagan(cfg)
    model.compile(g_optimizer=keras.optimizers.SGD(0.05), d_optimizer=keras.optimizers.SGD(0.05))
    return model


def test_two_replicas_equal_one_device_with_the_same_global_batch(mirrored):
    """Losses reduced over the global batch: 1 step on 2 replicas == 1 step on 1 device."""
    cfg = tiny_config()
    images, labels = fake_batch(8)
    ds = tf.data.Dataset.from_tensors((images, labels))

    keras.utils.set_random_seed(1)
    single = sgd_sagan(cfg)
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    with mirrored.scope():
        multi = sgd_sagan(cfg)
    before = [v.numpy() for v in single.generator.variables + single.discriminator.variables]
    copy_weights(single.generator, multi.generator)
    copy_weights(single.discriminator, multi.discriminator)

    from sagan_tf.training.loop import make_step_function

    logs1 = make_step_function(single, one)(iter(one.experimental_distribute_dataset(ds)))
    logs2 = make_step_function(multi, mirrored)(iter(mirrored.experimental_distribute_dataset(ds)))
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(float(logs2[key]), float(logs1[key]), rtol=1e-4, atol=1e-5)
    after_single = single.generator.variables + single.discriminator.variables
    after_multi = multi.generator.variables + multi.discriminator.variables
    moved = 0
    for old, a, b in zip(before, after_single, after_multi, strict=True):
        # float32 sums in a different order: agreement to ~1e-6 of weights that moved by ~1e-2.
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-6, err_msg=a.path)
        moved += int(np.abs(a.numpy() - old).max() > 1e-4)
    assert moved > 40  # the step really changed the weights
    # Replicas hold identical copies (mirrored variables, u with ONLY_FIRST_REPLICA).
    for v in multi.generator.variables + multi.discriminator.variables:
        values = [t.numpy() for t in mirrored.experimental_local_results(v.value)]
        np.testing.assert_array_equal(values[0], values[1], err_msg=v.path)


def test_each_replica_draws_its_own_slice_of_the_global_noise(mirrored):
    keras.utils.set_random_seed(2)
    strategy = mirrored
    with strategy.scope():
        model = build_sagan(tiny_config())
    one_device = model.noise(8, 0)

    @tf.function
    def draw():
        return strategy.run(lambda: model.noise(4, 0))

    parts = [t.numpy() for t in strategy.experimental_local_results(draw())]
    assert not np.allclose(parts[0], parts[1])
    np.testing.assert_array_equal(np.concatenate(parts), one_device.numpy())
    # Different phases (D step k, G step) and steps give different noise.
    assert not np.allclose(model.noise(8, 1).numpy(), one_device.numpy())
    assert not np.allclose(model.noise(8, 0, step=5).numpy(), one_device.numpy())


def _sn_layers(net):
    return [layer for layer in net._flatten_layers() if isinstance(layer, SpectralNormalization)]


def _one_power_iteration(w, u):
    w = np.asarray(w, np.float64)
    w = w.reshape(-1, w.shape[-1])
    u = np.asarray(u, np.float64)
    v = u @ w.T
    v /= np.linalg.norm(v)
    u = v @ w
    return u / np.linalg.norm(u)


def test_power_iteration_advances_once_per_step_in_each_network():
    """After one step, every u equals exactly one power iteration from its start (not two)."""
    keras.utils.set_random_seed(3)
    model = build_sagan(tiny_config())
    before = {}
    for net in (model.generator, model.discriminator):
        for layer in _sn_layers(net):
            before[id(layer)] = (layer._weight_variable().numpy(), layer.u.numpy())
    tf.function(model.train_step)(fake_batch())
    count = 0
    for net in (model.generator, model.discriminator):
        for layer in _sn_layers(net):
            w, u = before[id(layer)]
            np.testing.assert_allclose(layer.u.numpy(), _one_power_iteration(w, u), rtol=1e-4, atol=1e-5, err_msg=layer.path)
            count += 1
    assert count > 20


def test_d_steps_per_g_step():
    keras.utils.set_random_seed(4)
    model = build_sagan(tiny_config(d_steps=2))
    images, labels = fake_batch(16)
    step = tf.function(model.train_step)
    step((images, labels))
    step((images, labels))
    assert int(model.g_optimizer.iterations.numpy()) == 2
    assert int(model.d_optimizer.iterations.numpy()) == 4


def test_fit_runs_under_default_and_mirrored_strategies(mirrored):
    images, labels = fake_batch(16)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8, drop_remainder=True).repeat()
    for strategy in (tf.distribute.get_strategy(), mirrored):
        with strategy.scope():
            model = build_sagan(tiny_config())
        history = model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)
        assert int(model.step.numpy()) == 2
        assert np.isfinite(history.history["d_loss"][-1])


@pytest.mark.parametrize("d_steps", [1, 2])
def test_g_batch_norm_statistics_move_once_per_step(d_steps):
    """G's moving statistics take one momentum step per training step, in the G update, whatever
    ``d_steps`` is: with z = 0 the first batch norm sees the linear layer's bias b in every example,
    so moving_mean = m * 0 + (1 - m) mean(b) and moving_variance = m * 1 + (1 - m) var(b) per
    channel (over the 4x4 positions); moving at every G call would give 1 - m^(d_steps + 1)."""
    keras.utils.set_random_seed(6)
    model = build_sagan(tiny_config(d_steps=d_steps))
    g = model.generator
    z_dim, channels = g.z_dim, g.init_channels
    model.noise = lambda batch, phase, step=None: tf.zeros([batch, z_dim])
    rng = np.random.default_rng(6)
    bias = rng.normal(size=16 * channels).astype(np.float32)
    g.linear.layer.bias.assign(bias)
    bn = g.blocks[0].bn1.batch_norm  # the moving statistics
    m = g.blocks[0].bn1.momentum
    assert float(np.max(np.abs(bn.moving_mean.numpy()))) == 0.0

    images, labels = fake_batch(8 * d_steps)
    tf.function(model.train_step)((images, labels))
    per_channel = bias.reshape(16, channels).astype(np.float64)
    np.testing.assert_allclose(bn.moving_mean.numpy(), (1 - m) * per_channel.mean(0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bn.moving_variance.numpy(), m + (1 - m) * per_channel.var(0), rtol=1e-5, atol=1e-7)
    assert not np.allclose(bn.moving_mean.numpy(), (1 - m ** (d_steps + 1)) * per_channel.mean(0), rtol=1e-3)
