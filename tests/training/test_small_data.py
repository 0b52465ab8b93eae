"""Augmentation, ADA and LeCam inside the training step, against closed forms and numpy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.augment import augment, draw, slice_draws
from sagan_tf.config import augment_policy
from sagan_tf.layers.running_state import frozen_state
from sagan_tf.training.builders import build_sagan
from sagan_tf.training.gan import FAKE, REAL
from sagan_tf.training.lecam import LeCamAnchors
from sagan_tf.training.loop import make_step_function
from tests.helpers.training import copy_networks, fake_batch, model_and_reference_logits, tiny_config

ALL = "color,translation,cutout"


def small_data_config(policy=ALL, **train):
    cfg = tiny_config(**train)
    cfg.augment.policy = policy
    return cfg


def run_steps(model, steps, strategy=None, batch=8):
    strategy = strategy or tf.distribute.get_strategy()
    ds = tf.data.Dataset.from_tensors(fake_batch(batch)).repeat()
    step = make_step_function(model, strategy)
    iterator = iter(strategy.experimental_distribute_dataset(ds))
    return [{k: float(v) for k, v in step(iterator).items()} for _ in range(steps)]


def test_real_and_generated_batches_get_independent_draws_of_the_step_key():
    keras.utils.set_random_seed(0)
    model = build_sagan(small_data_config())
    x = tf.constant(fake_batch(8)[0])
    real, fake = model.augment(x, 0, REAL).numpy(), model.augment(x, 0, FAKE).numpy()
    assert np.abs(real - fake).max() > 0.1
    # Each is the augmentation with the draws of its own key, (seed, step 0, phase 0) folded with the stream.
    for stream, got in ((REAL, real), (FAKE, fake)):
        key = tf.random.experimental.stateless_fold_in(model._key(0), 0x5A6A + stream)
        expected = augment(x, draw(8, 32, 32, key, 1.0), augment_policy(ALL))
        np.testing.assert_array_equal(got, expected.numpy())
    # Another step or phase draws anew; the same ones again draw the same.
    np.testing.assert_array_equal(model.augment(x, 0, REAL).numpy(), real)
    assert np.abs(model.augment(x, 1, REAL).numpy() - real).max() > 0.1
    assert np.abs(model.augment(x, 0, REAL, step=5).numpy() - real).max() > 0.1


@pytest.mark.parametrize("policy, channels", [("translation,cutout", 1), ("color", 3)])
def test_g_gradient_flows_through_the_augmentation_finite_differences(policy, channels):
    """dL_G/db for G's output-layer bias b: autodiff through D(augment(G(z))) equals central differences.
    ``color``: brightness, saturation and contrast, whose gradients pass through the per-pixel channel
    mean and the per-image mean (three channels: with one, saturation is the identity); b shifts a
    whole channel, which moves both means."""
    keras.utils.set_random_seed(1)
    cfg = small_data_config(policy)
    cfg.data.channels = channels
    model = build_sagan(cfg)
    _, labels = fake_batch(8)
    z = model.noise(8, 1)
    bias = next(v for v in model.generator.trainable_variables if v.path.endswith("output_conv/bias"))

    def loss():
        with frozen_state():  # no power iteration or moving statistics between the evaluations
            return model.g_loss(labels, z, 8.0)[0]

    with tf.GradientTape() as tape:
        value = loss()
    grad = tape.gradient(value, bias).numpy()
    eps, base = 1e-2, bias.numpy()
    numeric = []
    for i in range(base.size):
        bumped = base.copy()
        bumped[i] += eps
        bias.assign(bumped)
        up = float(loss())
        bumped[i] -= 2 * eps
        bias.assign(bumped)
        numeric.append((up - float(loss())) / (2 * eps))
    bias.assign(base)
    # The differences' error: float32 rounding of a loss of ~10 over 2 eps (~1e-3 per unit of the
    # gradient's scale) and the curvature and ReLU kinks within +-eps, below 0.5% of the largest
    # component here. Without the means' gradients (a stop_gradient on either mean) the colour
    # case's components move by 1 to 3 (of up to 36), well beyond it.
    np.testing.assert_allclose(grad, numeric, rtol=0.05, atol=max(2e-3, 5e-3 * np.abs(numeric).max()))
    # Without the augmentation the gradient is another one: the augmentation is on the path.
    model.augment_policy = ()
    with tf.GradientTape() as tape:
        plain = loss()
    assert np.abs(tape.gradient(plain, bias).numpy() - grad).max() > 1e-3
    assert np.abs(grad).max() > 1e-3


def test_ada_probability_rises_when_d_overfits_and_falls_when_it_does_not():
    """r_t = E[sign(D(real))] = +1 (D's output bias +50) or -1 (bias -50), target 0.6: after each
    2-step interval of 16 real images p moves by exactly 16 / (0.5 * 1000) up, or down to 0."""
    for bias_value, direction in ((50.0, 1), (-50.0, -1)):
        cfg = small_data_config()
        cfg.augment.probability, cfg.augment.ada_target = 0.5, 0.6
        cfg.augment.ada_interval, cfg.augment.ada_kimg = 2, 0.5
        keras.utils.set_random_seed(2)
        model = build_sagan(cfg)
        model.compile(g_optimizer=keras.optimizers.SGD(0.0), d_optimizer=keras.optimizers.SGD(0.0))
        head = next(v for v in model.discriminator.variables if v.path.endswith("linear/bias"))
        head.assign(np.full(head.shape, bias_value, np.float32))
        logs = run_steps(model, 6)
        ps = [log["augment_p"] for log in logs]
        step = 16 / 500.0
        expected = [0.5, 0.5 + direction * step, 0.5 + direction * step, 0.5 + 2 * direction * step,
                    0.5 + 2 * direction * step, 0.5 + 3 * direction * step]
        np.testing.assert_allclose(ps, np.clip(expected, 0, 1), atol=1e-6)
        assert logs[-1]["ada_rt"] == direction


def test_ada_probability_rises_as_a_tiny_d_memorises_eight_real_images():
    """A D of 8 channels trained on 8 fixed Fashion-MNIST images against a frozen G: r_t, the mean of
    sign(D(augmented real)) over each 2-step interval, climbs from -1 past the target 0.6, and p
    follows ADA's rule, p <- clip(p + sign(r_t - 0.6) * 16 / 200, 0, 1), for r_t computed here from
    D's own logits (a separate forward pass before each step, its state put back)."""
    from tests.helpers.fashion_mnist import split_arrays

    images, classes = split_arrays("train")
    x = np.pad(images[:8].astype(np.float32) / 127.5 - 1.0, ((0, 0), (2, 2), (2, 2)), constant_values=-1.0)[..., None]
    real = (tf.constant(x), tf.constant(classes[:8] % 4, tf.int32))
    cfg = small_data_config()
    cfg.model.ch = 8
    cfg.augment.probability, cfg.augment.ada_target, cfg.augment.ada_interval, cfg.augment.ada_kimg = 0.0, 0.6, 2, 0.2
    keras.utils.set_random_seed(7)
    model = build_sagan(cfg)
    model.compile(g_optimizer=keras.optimizers.SGD(0.0), d_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.0, beta_2=0.9))
    step_fn = make_step_function(model, tf.distribute.get_strategy())
    iterator = iter(tf.data.Dataset.from_tensors(real).repeat())

    @tf.function
    def real_logits(step):  # D's first call in train_step: the reals of phase 0, augmented with the current p
        return model.discriminator((model.augment(real[0], 0, REAL, step), real[1]), training=True)

    p, signs, rts, ps = 0.0, [], [], []
    for step in range(24):
        saved = [v.numpy() for v in model.discriminator.variables]
        signs.extend(np.sign(real_logits(tf.constant(step, tf.int64)).numpy().ravel()))
        for v, value in zip(model.discriminator.variables, saved, strict=True):  # the power iteration undone
            v.assign(value)
        logs = {k: float(v) for k, v in step_fn(iterator).items()}
        if (step + 1) % 2 == 0:
            rts.append(np.mean(signs))
            p, signs = float(np.clip(p + np.sign(rts[-1] - 0.6) * 16 / 200, 0.0, 1.0)), []
            assert logs["ada_rt"] == pytest.approx(rts[-1], abs=1e-6), step
        assert logs["augment_p"] == pytest.approx(p, abs=1e-6), step
        ps.append(logs["augment_p"])
    assert rts[0] == -1 and ps[:4] == [0.0] * 4  # an untrained D: every real scored negative, p held at 0
    assert sum(rt > 0.6 for rt in rts[-6:]) >= 4  # D has learnt its 8 reals: r_t above the target
    assert ps[-1] >= 0.24  # and p went up by at least 3 of its steps of 0.08


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan, "overflow"])
def test_a_non_finite_batch_mean_leaves_the_lecam_anchors_and_their_count_as_they_are(bad):
    """``LeCamAnchors.update`` skips means that are not finite (a float16 overflow, or a float32 sum
    of finite logits that overflows): both anchors stay, the update is not counted, and the next
    finite update is the one a run without the bad batch would make (the first: the means themselves)."""
    anchors = LeCamAnchors(0.1, decay=0.9)
    real = np.array([[0.5], [1.5], [-0.25], [2.0]], np.float32)
    fake = np.array([[-1.0], [0.25], [-0.5], [0.75]], np.float32)
    if bad == "overflow":
        broken = np.full((4, 1), 3e38, np.float32)  # finite logits, a sum of 1.2e39
        assert np.isfinite(broken).all()
    else:
        broken = real.copy()
        broken[2] = bad

    def state():
        return anchors.real.numpy(), anchors.fake.numpy(), anchors.updates.numpy()

    update = tf.function(anchors.update)
    update(tf.constant(broken), tf.constant(fake), 4.0)  # before any update: still none
    assert state() == (0.0, 0.0, 0.0)
    update(tf.constant(real), tf.constant(fake), 4.0)
    np.testing.assert_allclose(state(), (real.mean(), fake.mean(), 1.0), rtol=1e-6)
    for r, f in ((real * 3, broken), (broken, fake * 3)):  # either mean bad: neither anchor moves
        update(tf.constant(r), tf.constant(f), 4.0)
        np.testing.assert_allclose(state(), (real.mean(), fake.mean(), 1.0), rtol=1e-6)
    update(tf.constant(real * 3), tf.constant(fake * 3), 4.0)
    expected = (0.9 * real.mean() + 0.1 * 3 * real.mean(), 0.9 * fake.mean() + 0.1 * 3 * fake.mean(), 2.0)
    np.testing.assert_allclose(state(), expected, rtol=1e-6)


def test_lecam_penalty_and_anchors_against_numpy():
    lam, decay = 0.5, 0.9
    cfg = tiny_config(lecam_weight=lam, lecam_decay=decay)
    model, _, images, labels, real_l, fake_l = model_and_reference_logits(cfg)
    a_real, a_fake = 0.3, -0.2
    model.lecam.real.assign(a_real)
    model.lecam.fake.assign(a_fake)
    model.lecam.updates.assign(1.0)  # not the first update: the anchors average
    expected = np.mean(np.maximum(real_l - a_fake, 0) ** 2) + np.mean(np.maximum(a_real - fake_l, 0) ** 2)
    # The loss D minimises is the hinge loss plus lambda * R_LC.
    with frozen_state():
        fake = model.generator((model.noise(8, 0), labels), training=True)
    saved = [v.numpy() for v in model.discriminator.variables]
    total, logs = model.d_loss(images, fake, labels, 8.0, 0)  # one power iteration, as the reference's
    for v, value in zip(model.discriminator.variables, saved, strict=True):  # undone for the step below
        v.assign(value)
    hinge = np.maximum(0, 1 - real_l).mean() + np.maximum(0, 1 + fake_l).mean()
    np.testing.assert_allclose(float(logs["lecam"]), expected, rtol=1e-5)
    np.testing.assert_allclose(float(total), hinge + lam * expected, rtol=1e-5)
    step_logs = tf.function(model.train_step)((images, labels))
    np.testing.assert_allclose(float(step_logs["lecam"]), expected, rtol=1e-5)
    np.testing.assert_allclose(model.lecam.real.numpy(), decay * a_real + (1 - decay) * real_l.mean(), rtol=1e-5)
    np.testing.assert_allclose(model.lecam.fake.numpy(), decay * a_fake + (1 - decay) * fake_l.mean(), rtol=1e-5)


def test_the_first_lecam_update_takes_the_means_themselves():
    model, _, images, labels, real_l, fake_l = model_and_reference_logits(tiny_config(lecam_weight=0.1))
    tf.function(model.train_step)((images, labels))
    np.testing.assert_allclose(model.lecam.real.numpy(), real_l.mean(), rtol=1e-5)
    np.testing.assert_allclose(model.lecam.fake.numpy(), fake_l.mean(), rtol=1e-5)
    assert model.lecam.updates.numpy() == 1.0


def test_two_replicas_equal_one_device_with_augmentation_ada_and_lecam(mirrored):
    cfg = small_data_config(lecam_weight=0.3)
    cfg.augment.probability, cfg.augment.ada_target, cfg.augment.ada_interval = 0.5, 0.6, 1
    cfg.augment.ada_kimg = 0.1

    def sgd(model):
        model.compile(g_optimizer=keras.optimizers.SGD(1e-3), d_optimizer=keras.optimizers.SGD(1e-3))
        return model

    keras.utils.set_random_seed(3)
    single = sgd(build_sagan(cfg))
    with mirrored.scope():
        multi = sgd(build_sagan(cfg))
    copy_networks(single, multi)
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    logs1, logs2 = run_steps(single, 3, one), run_steps(multi, 3, mirrored)
    for a, b in zip(logs1, logs2, strict=True):
        for key in ("d_loss", "g_loss", "lecam", "augment_p", "ada_rt", "lecam_anchor_real"):
            np.testing.assert_allclose(b[key], a[key], rtol=1e-4, atol=1e-5, err_msg=key)
    assert all(abs(log["augment_p"] - 0.5) > 0.01 for log in logs1[::2])  # p moves by 8/100 every step
    for a, b in zip(single.generator.variables + single.discriminator.variables,
                    multi.generator.variables + multi.discriminator.variables, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)
    for name, v in multi.regularization_state().items():
        values = [t.numpy() for t in mirrored.experimental_local_results(v.value)]
        assert values[0] == values[1], name
        np.testing.assert_allclose(values[0], single.regularization_state()[name].numpy(), rtol=1e-5, err_msg=name)


def test_each_replica_augments_its_own_slice_of_the_global_draws(mirrored):
    keras.utils.set_random_seed(4)
    with mirrored.scope():
        model = build_sagan(small_data_config())
    x = tf.constant(fake_batch(4)[0])

    @tf.function
    def run():
        return mirrored.run(lambda: model.augment(x, 0, REAL))

    per_replica = [t.numpy() for t in mirrored.experimental_local_results(run())]
    key = tf.random.experimental.stateless_fold_in(model._key(0), 0x5A6A + REAL)
    full = draw(8, 32, 32, key, 1.0)
    for replica, got in enumerate(per_replica):
        expected = augment(x, slice_draws(full, replica * 4, 4), augment_policy(ALL))
        np.testing.assert_array_equal(got, expected.numpy())


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_a_step_with_every_regularizer_runs_in_mixed_precision(precision):
    cfg = small_data_config(lecam_weight=0.3, precision=precision)
    cfg.augment.ada_target, cfg.augment.ada_interval = 0.6, 1
    keras.utils.set_random_seed(5)
    model = build_sagan(cfg)
    logs = run_steps(model, 2)
    assert all(np.isfinite(list(log.values())).all() for log in logs)
    assert model.generator.compute_dtype == precision.removeprefix("mixed_")
    assert logs[-1]["augment_p"] != cfg.augment.probability


def test_the_heldout_view_is_d_on_each_set_in_inference_mode():
    from sagan_tf.training.heldout import overfitting_scalars

    keras.utils.set_random_seed(6)
    model = build_sagan(tiny_config())
    rng = np.random.default_rng(0)
    train = (rng.uniform(-1, 1, (150, 32, 32, 1)).astype(np.float32), rng.integers(0, 4, 150).astype(np.int32))
    heldout = (rng.uniform(-1, 1, (120, 32, 32, 1)).astype(np.float32), rng.integers(0, 4, 120).astype(np.int32))
    z = rng.standard_normal((120, 16)).astype(np.float32)
    before = [v.numpy() for v in model.discriminator.variables + model.generator.variables]
    got = overfitting_scalars(model, train, heldout, z)
    d, g = model.discriminator, model.generator
    on_train = d(train, training=False).numpy()
    on_heldout = d(heldout, training=False).numpy()
    on_fake = d((g((z, heldout[1]), training=False), heldout[1]), training=False).numpy()
    np.testing.assert_allclose(got["overfitting/d_train"], on_train.mean(), rtol=1e-5)
    np.testing.assert_allclose(got["overfitting/d_heldout"], on_heldout.mean(), rtol=1e-5)
    np.testing.assert_allclose(got["overfitting/d_generated"], on_fake.mean(), rtol=1e-4)
    np.testing.assert_allclose(got["overfitting/gap"], on_train.mean() - on_heldout.mean(), rtol=1e-4, atol=1e-6)
    assert got["overfitting/rt_train"] == pytest.approx(np.sign(on_train).mean())
    assert got["overfitting/rt_heldout"] == pytest.approx(np.sign(on_heldout).mean())
    for old, v in zip(before, model.discriminator.variables + model.generator.variables, strict=True):
        np.testing.assert_array_equal(old, v.numpy())  # no state moved
