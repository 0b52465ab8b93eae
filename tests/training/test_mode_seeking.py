"""The mode-seeking term of G's loss (``training.mode_seeking``) against numpy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.errors import ConfigError
from sagan_tf.layers.running_state import frozen_state
from sagan_tf.runs.checkpointing import training_checkpoint
from sagan_tf.trainer.options import check_batch
from sagan_tf.training.builders import build_sagan
from sagan_tf.training.loop import make_step_function
from sagan_tf.training.mode_seeking import (
    EPS,
    OFFSETS,
    ClassSpread,
    mode_seeking_penalty,
    pair_ratios,
    paired_labels,
)
from tests.helpers.training import copy_networks, fake_batch, tiny_config


def numpy_penalty(images, z, scale=None):
    """Mao et al. 2019 eq. 3 over the pairs (2i, 2i + 1): mean of 1 / (d_I / d_z + eps), d = mean |.|;
    ``scale``: each pair's ratio times it (class-relative mode seeking)."""
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    z = np.asarray(z, np.float64)
    ratios = np.abs(x[0::2] - x[1::2]).mean(1) / np.abs(z[0::2] - z[1::2]).mean(1)
    scaled = ratios * (1.0 if scale is None else np.asarray(scale, np.float64))
    return float(np.mean(1.0 / (scaled + EPS))), float(np.mean(ratios))


def numpy_class_spread(images, labels, num_classes):
    """Per class: (sum, count) of d_I over the pairs (i, i + k mod n), 0 < k <= OFFSETS, k < n, of one class."""
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    y = np.asarray(labels)
    sums, counts = np.zeros(num_classes), np.zeros(num_classes)
    for k in range(1, min(OFFSETS, len(x) - 1) + 1):
        other = np.roll(x, -k, axis=0)
        same = y == np.roll(y, -k)
        np.add.at(sums, y[same], np.abs(x - other).mean(1)[same])
        np.add.at(counts, y[same], 1)
    return sums, counts


def test_penalty_and_pairs_against_numpy():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (6, 4, 4, 3)).astype(np.float32)
    z = rng.normal(size=(6, 5)).astype(np.float32)
    expected, _ = numpy_penalty(images, z)
    np.testing.assert_allclose(float(mode_seeking_penalty(pair_ratios(images, z), 6)), expected, rtol=1e-5)
    # a replica's share: its 1 pair of 3 summed over the global batch's 3 pairs
    np.testing.assert_allclose(float(mode_seeking_penalty(pair_ratios(images[:2], z[:2]), 6)),
                               numpy_penalty(images[:2], z[:2])[0] / 3, rtol=1e-5)
    np.testing.assert_array_equal(paired_labels(tf.constant([3, 1, 4, 1, 5, 9])).numpy(), [3, 3, 4, 4, 5, 5])
    # identical images of a pair: the penalty is 1 / eps
    same = np.repeat(images[0::2], 2, axis=0)
    np.testing.assert_allclose(float(mode_seeking_penalty(pair_ratios(same, z), 6)), 1.0 / EPS, rtol=1e-5)


@pytest.mark.parametrize("weight", [0.0, 0.7])
def test_g_loss_adds_the_weighted_penalty_of_same_class_pairs(weight):
    """G's loss is the hinge loss of G's images of the paired labels plus ``weight`` x the numpy
    penalty of those images; without the term the labels are left as they are."""
    keras.utils.set_random_seed(0)
    model = build_sagan(tiny_config(mode_seeking=weight, ema_decay=0.0))
    reference = build_sagan(tiny_config(ema_decay=0.0))
    copy_networks(model, reference)
    _, labels = fake_batch(8, seed=2)
    assert len(set(labels[0::2] == labels[1::2])) == 2  # some neighbours differ: the pairing matters
    z = model.noise(8, model.d_steps, step=tf.constant(0, tf.int64))
    used = np.repeat(labels[0::2], 2) if weight else labels
    with frozen_state():
        loss, logs = model.g_loss(tf.constant(labels), z, 8.0)
        images = reference.generator((z, used), training=True)
        logits = reference.discriminator((images, used), training=True).numpy()
    penalty, mean_ratio = numpy_penalty(images.numpy(), z.numpy())
    np.testing.assert_allclose(float(logs["g_loss"]), float(np.mean(-logits)), rtol=1e-5)
    np.testing.assert_allclose(float(loss), float(np.sum(-logits)) / 8 + weight * penalty, rtol=1e-5)
    if weight:
        np.testing.assert_allclose(float(logs["mode_seeking_ratio"]), mean_ratio, rtol=1e-5)
    else:
        assert "mode_seeking_ratio" not in logs


def sgd_model(weight, accumulate=1, strategy=None, per_class=False):
    with strategy.scope() if strategy is not None else tf.distribute.get_strategy().scope():
        model = build_sagan(tiny_config(mode_seeking=weight, accumulate=accumulate, ema_decay=0.0,
                                        mode_seeking_per_class=per_class))
        model.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
    return model


def run_step(model, strategy, images, labels):
    ds = tf.data.Dataset.from_tensors((images, labels))
    return make_step_function(model, strategy)(iter(strategy.experimental_distribute_dataset(ds)))


def test_two_replicas_update_g_as_one_device(mirrored):
    """The pairs are neighbours: 2 replicas of 4 images make the pairs and the update of one device's
    batch of 8; and the term changes that update."""
    keras.utils.set_random_seed(3)
    single, multi, plain = sgd_model(1.0), sgd_model(1.0, strategy=mirrored), sgd_model(0.0)
    copy_networks(single, multi)
    copy_networks(single, plain)
    images, labels = fake_batch(8, seed=1)
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    run_step(single, one, images, labels)
    run_step(multi, mirrored, images, labels)
    run_step(plain, one, images, labels)
    moved = 0.0
    for a, b, c in zip(single.generator.trainable_variables, multi.generator.trainable_variables,
                       plain.generator.trainable_variables, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)  # biases before BN: ~0 gradient, rounding
        moved = max(moved, float(np.abs(a.numpy() - c.numpy()).max()))
    assert moved > 1e-4


def test_two_replicas_hold_the_spreads_of_all_their_pairs(mirrored):
    """Class-relative: after a step both replicas hold the spreads of the pairs within each replica's
    4 real images, summed over the replicas (the numpy estimate)."""
    keras.utils.set_random_seed(3)
    model = sgd_model(1.0, strategy=mirrored, per_class=True)
    images, labels = fake_batch(8, seed=1)
    run_step(model, mirrored, images, labels)
    parts = [numpy_class_spread(images[i : i + 4], labels[i : i + 4], 4) for i in (0, 4)]
    sums, counts = parts[0][0] + parts[1][0], parts[0][1] + parts[1][1]
    assert (counts > 0).sum() >= 2
    expected = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    for value in mirrored.experimental_local_results(model.class_spread.spread.value):
        np.testing.assert_allclose(value.numpy(), expected, rtol=1e-5)


def test_an_odd_batch_of_g_is_one_error(mirrored):
    with pytest.raises(ConfigError, match=r"train.mode_seeking pairs.*gives 3 per replica.*multiple of 4"):
        check_batch(tiny_config(mode_seeking=1.0, batch_size=6), mirrored)
    assert check_batch(tiny_config(mode_seeking=1.0, batch_size=8, accumulate=2), mirrored) == 4
    assert check_batch(tiny_config(batch_size=6), mirrored) == 3  # odd is fine without the term
    from sagan_tf import config as config_lib

    with pytest.raises(ConfigError, match="'train.mode_seeking' must be >= 0"):
        config_lib.load("fashion_mnist32", ["train.mode_seeking=-1"])


def test_class_spread_against_numpy():
    """Each class's spread is the mean d_I of its real pairs, averaged over updates with the decay
    (the first estimate taken as it is); a class not seen stays 0 and its scale 1; the scale of a
    pair is s_mean / s_y."""
    rng = np.random.default_rng(0)
    first = rng.uniform(-1, 1, (16, 4, 4, 1)).astype(np.float32)
    labels = np.array([0, 1, 0, 1, 2, 0, 1, 0, 2, 1, 0, 1, 0, 2, 1, 0], np.int32)
    first[labels == 1] *= 0.25  # class 1 varies a quarter as much as class 0
    second = rng.uniform(-1, 1, (16, 4, 4, 1)).astype(np.float32)
    spread = ClassSpread(num_classes=4, decay=0.9)
    spread.update(tf.constant(first), tf.constant(labels))
    sums, counts = numpy_class_spread(first, labels, 4)
    assert counts[3] == 0 and counts[:3].min() > 0
    estimate = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    np.testing.assert_allclose(spread.spread.numpy(), estimate, rtol=1e-5)
    assert 3.5 < estimate[0] / estimate[1] < 4.5
    only_class_2 = np.full(16, 2, np.int32)
    spread.update(tf.constant(second), tf.constant(only_class_2))
    sums2, counts2 = numpy_class_spread(second, only_class_2, 4)
    expected = estimate.copy()
    expected[2] = 0.9 * estimate[2] + 0.1 * sums2[2] / counts2[2]
    np.testing.assert_allclose(spread.spread.numpy(), expected, rtol=1e-5)
    np.testing.assert_array_equal(spread.updates.numpy(), [1, 1, 2, 0])
    mean = expected[:3].mean()
    np.testing.assert_allclose(spread.ratio_scale(tf.constant([0, 1, 2, 3])).numpy(),
                               [mean / expected[0], mean / expected[1], mean / expected[2], 1.0], rtol=1e-5)


def test_class_relative_g_loss_scales_each_pair_by_its_class():
    """With ``mode_seeking_per_class`` G's loss is the hinge loss plus the weighted numpy penalty of
    the ratios times s_mean / s_y of each pair's class; a class twice as varied as another needs
    twice the image distance for the same penalty."""
    keras.utils.set_random_seed(0)
    cfg = tiny_config(mode_seeking=0.7, mode_seeking_per_class=True, ema_decay=0.0)
    model = build_sagan(cfg)
    reference = build_sagan(tiny_config(ema_decay=0.0))
    copy_networks(model, reference)
    spreads = np.array([0.2, 0.4, 0.8, 0.0], np.float32)  # class 3 not seen yet: scale 1
    model.class_spread.spread.assign(spreads)
    _, labels = fake_batch(8, seed=2)
    labels[0::2] = [0, 1, 2, 3]
    z = model.noise(8, model.d_steps, step=tf.constant(0, tf.int64))
    used = np.repeat(labels[0::2], 2)
    with frozen_state():
        loss, _ = model.g_loss(tf.constant(labels), z, 8.0)
        images = reference.generator((z, used), training=True)
        logits = reference.discriminator((images, used), training=True).numpy()
    mean = spreads[:3].mean()
    scale = [mean / 0.2, mean / 0.4, mean / 0.8, 1.0]
    penalty, _ = numpy_penalty(images.numpy(), z.numpy(), scale)
    plain, _ = numpy_penalty(images.numpy(), z.numpy())
    np.testing.assert_allclose(float(loss), float(np.sum(-logits)) / 8 + 0.7 * penalty, rtol=1e-5)
    assert abs(penalty - plain) > 1e-3 * plain


@pytest.mark.parametrize("per_class", [False, True])
def test_the_class_spreads_are_in_the_checkpoint_only_when_used(per_class, tmp_path):
    model = build_sagan(tiny_config(mode_seeking=0.5, mode_seeking_per_class=per_class, ema_decay=0.0))
    if per_class:
        model.class_spread.spread.assign([0.1, 0.2, 0.3, 0.4])
    path = training_checkpoint(model).write(str(tmp_path / "ckpt"))
    names = [name for name, _ in tf.train.list_variables(path)]
    assert any("mode_seeking_class_spread" in name for name in names) == per_class
    if per_class:
        restored = build_sagan(tiny_config(mode_seeking=0.5, mode_seeking_per_class=True, ema_decay=0.0))
        training_checkpoint(restored).read(path).assert_existing_objects_matched()
        np.testing.assert_allclose(restored.class_spread.spread.numpy(), [0.1, 0.2, 0.3, 0.4])
