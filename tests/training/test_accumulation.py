"""Gradient accumulation (``train.accumulate``, ``training.accumulation``): a train step with K
micro-batches against independent computations of the whole batch's update.

Plain SGD (lr 0.1): its update is linear in the gradient, so a gradient summed wrongly (averaged,
counted twice) shows; Adam's first step, lr * sign(g), would hide it.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.errors import ConfigError
from sagan_tf.layers import SpectralNormalization
from sagan_tf.layers.running_state import frozen_state
from sagan_tf.trainer.options import check_batch
from sagan_tf.training.builders import build_sagan
from tests.helpers.training import copy_networks, fake_batch, tiny_config

LR = 0.1


def sgd_model(accumulate, strategy=None):
    with strategy.scope() if strategy is not None else _nothing():
        model = build_sagan(tiny_config(accumulate=accumulate, ema_decay=0.0))
        model.compile(g_optimizer=keras.optimizers.SGD(LR), d_optimizer=keras.optimizers.SGD(LR))
    return model


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def sn_vectors(network):
    return {layer.name: layer.u.numpy().copy() for layer in _sn_layers(network)}


def _sn_layers(network):
    return [layer for layer in network._flatten_layers() if isinstance(layer, SpectralNormalization)]


def one_power_iteration(u, w_mat):
    """Miyato et al., Algorithm 1, one step (numpy): the u a whole-batch update leaves."""
    v = u @ w_mat.T
    v /= max(np.linalg.norm(v), 1e-12)
    u = v @ w_mat
    return u / max(np.linalg.norm(u), 1e-12)


@pytest.fixture(scope="module")
def stepped():
    """A SAGAN with accumulate 4 after one train step on a batch of 8, and its weights before."""
    keras.utils.set_random_seed(0)
    model = sgd_model(4)
    images, labels = fake_batch(8)
    before = {v.path: v.numpy().copy() for v in model.generator.variables + model.discriminator.variables}
    fresh = sgd_model(1)
    copy_networks(model, fresh)
    tf.function(model.train_step)((images, labels))
    return model, fresh, before, images, labels


def test_d_update_of_4_micro_batches_is_the_whole_batch_update(stepped):
    """D has no batch norm: its update equals one SGD step on the whole batch's hinge loss, computed
    here in one tape from the same fakes, and its u moved by exactly one power iteration."""
    model, fresh, before, images, labels = stepped
    z = fresh.noise(8, 0, step=tf.constant(0, tf.int64))
    with frozen_state():
        fake = fresh.generator((z, labels), training=True)
    with tf.GradientTape() as tape:  # one training call: one power iteration, sigma's gradient through it
        logits = fresh.discriminator((tf.concat([images, fake], 0), tf.concat([labels, labels], 0)), training=True)
        real_logits, fake_logits = tf.split(logits, 2)
        loss = (tf.reduce_sum(tf.nn.relu(1 - real_logits)) + tf.reduce_sum(tf.nn.relu(1 + fake_logits))) / 8.0
    grads = tape.gradient(loss, fresh.discriminator.trainable_variables)
    moved = 0
    for v, g in zip(fresh.discriminator.trainable_variables, grads, strict=True):
        after = next(w for w in model.discriminator.trainable_variables if w.path == v.path).numpy()
        np.testing.assert_allclose(after, before[v.path] - LR * tf.convert_to_tensor(g).numpy(), rtol=1e-5, atol=2e-6, err_msg=v.path)
        moved += int(np.abs(after - before[v.path]).max() > 1e-5)
    assert moved >= 10
    second = 0  # layers where a second iteration would have shown
    for layer in _sn_layers(model.discriminator):
        old = before[layer.u.path]
        w_old = before[layer._weight_variable().path]
        w_mat = layer._as_matrix(tf.constant(w_old)).numpy()
        once = one_power_iteration(old, w_mat)  # from the weights the update started from
        np.testing.assert_allclose(layer.u.numpy(), once, rtol=1e-5, atol=1e-6, err_msg=layer.u.path)
        second += int(np.abs(one_power_iteration(once, w_mat) - once).max() > 1e-4)
    assert second >= 5


def micro_batch_g_gradients(fresh, z, labels, k):
    """G's hinge-loss gradient summed over k micro-batches, each a separate forward of G (batch
    norm with that micro-batch's statistics) from the state the update started from."""
    state = [(v, v.numpy().copy()) for v in fresh.generator.non_trainable_variables]
    total, size, first_state = None, len(labels) // k, None
    for i in range(k):
        for v, value in state:
            v.assign(value)
        part = slice(i * size, (i + 1) * size)
        with tf.GradientTape() as tape:
            images = fresh.generator((z[part], labels[part]), training=True)
            with frozen_state():
                logits = fresh.discriminator((images, labels[part]), training=True)
            loss = tf.reduce_sum(-logits) / float(len(labels))
        grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, fresh.generator.trainable_variables)]
        total = grads if total is None else [a + b for a, b in zip(total, grads, strict=True)]
        if i == 0:
            first_state = {v.path: v.numpy().copy() for v, _ in state}
    for v, value in state:
        v.assign(value)
    return total, first_state


def test_g_update_normalizes_each_micro_batch_and_moves_its_state_once(stepped):
    """G's update equals the sum of 4 separate micro-batch gradients (each micro-batch normalized by
    its own batch norm statistics), not the whole batch's; its moving statistics and u are those of
    the first micro-batch's forward pass alone."""
    model, fresh, before, images, labels = stepped
    # fresh's D must be the D after the step's D update, as G's update sees it.
    for a, b in zip(model.discriminator.variables, fresh.discriminator.variables, strict=True):
        b.assign(a.numpy())
    z = fresh.noise(8, fresh.d_steps, step=tf.constant(0, tf.int64))
    micro, first_state = micro_batch_g_gradients(fresh, z, labels, 4)
    whole, _ = micro_batch_g_gradients(fresh, z, labels, 1)
    bn_effect = 0.0
    for v, g, g_whole in zip(fresh.generator.trainable_variables, micro, whole, strict=True):
        after = next(w for w in model.generator.trainable_variables if w.path == v.path).numpy()
        np.testing.assert_allclose(after, before[v.path] - LR * g, rtol=1e-5, atol=2e-6, err_msg=v.path)
        bn_effect = max(bn_effect, float(np.abs(g - g_whole).max()))
    assert bn_effect > 1e-3  # the whole batch's update is another one: batch norm statistics differ
    for v in model.generator.non_trainable_variables:
        np.testing.assert_allclose(v.numpy(), first_state[v.path], rtol=1e-5, atol=1e-6, err_msg=v.path)
        assert np.abs(v.numpy() - before[v.path]).max() > 0, v.path  # and it did move


def test_accumulation_under_two_replicas_equals_one_device(mirrored):
    """D's update with accumulate 2 on 2 replicas (4 images each, micro-batches of 2) is the one-device
    update of the whole batch of 8 without accumulation."""
    keras.utils.set_random_seed(3)
    single = sgd_model(1)
    multi = sgd_model(2, mirrored)
    copy_networks(single, multi)
    images, labels = fake_batch(8, seed=1)
    ds = tf.data.Dataset.from_tensors((images, labels))
    from sagan_tf.training.loop import make_step_function

    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    make_step_function(single, one)(iter(one.experimental_distribute_dataset(ds)))
    make_step_function(multi, mirrored)(iter(mirrored.experimental_distribute_dataset(ds)))
    for a, b in zip(single.discriminator.variables, multi.discriminator.variables, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=2e-6, err_msg=a.path)


def test_a_batch_the_replicas_and_micro_batches_cannot_share_is_one_error(mirrored):
    cfg = tiny_config(accumulate=8, batch_size=8)
    with pytest.raises(ConfigError, match=r"does not split into the 2 replica\(s\) x 8 micro-batches.*multiple of 16"):
        check_batch(cfg, mirrored)
    assert check_batch(tiny_config(accumulate=4, batch_size=8), mirrored) == 4
    from sagan_tf import config as config_lib

    with pytest.raises(ConfigError, match="not divisible by train.accumulate 3"):
        config_lib.load("fashion_mnist32", ["train.accumulate=3"])
