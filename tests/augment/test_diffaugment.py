"""DiffAugment's operations against a numpy computation with the same random draws."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.augment import STAGES, augment, draw
from sagan_tf.augment.diffaugment import cutout_side, translation_radius

ALL = ("color", "translation", "cutout")


def numpy_augment(x: np.ndarray, d: dict, policy) -> np.ndarray:
    """The operations written out per image and pixel (DiffAugment's definitions)."""
    x = x.astype(np.float64).copy()
    n, h, w, _ = x.shape
    wanted = {"color": STAGES[:3], "translation": ("translation",), "cutout": ("cutout",)}
    run = [s for s in STAGES if any(s in wanted[p] for p in policy)]
    for i in range(n):
        img = x[i]
        for stage in run:
            if not d["apply"][i, STAGES.index(stage)]:
                continue
            if stage == "brightness":
                img = img + d["brightness"][i]
            elif stage == "saturation":
                mean = img.mean(axis=2, keepdims=True)
                img = (img - mean) * d["saturation"][i] + mean
            elif stage == "contrast":
                mean = img.mean()
                img = (img - mean) * d["contrast"][i] + mean
            elif stage == "translation":
                ty, tx = d["shift"][i]
                out = np.zeros_like(img)
                for r in range(h):
                    for c in range(w):
                        if 0 <= r + ty < h and 0 <= c + tx < w:
                            out[r, c] = img[r + ty, c + tx]
                img = out
            elif stage == "cutout":
                s = cutout_side(h)
                top, left = d["cutout"][i][0] - s // 2, d["cutout"][i][1] - s // 2
                img = img.copy()
                img[max(top, 0) : max(top + s, 0), max(left, 0) : max(left + s, 0)] = 0.0
        x[i] = img
    return x


def draws(n, side, probability, seed=(3, 7)):
    return draw(n, side, side, tf.constant(seed, tf.int64), probability)


@pytest.mark.parametrize("policy", [("color",), ("translation",), ("cutout",), ALL])
@pytest.mark.parametrize("probability", [1.0, 0.5])
def test_each_policy_equals_numpy_with_the_same_draws(policy, probability):
    x = np.random.default_rng(0).uniform(-1, 1, (16, 16, 16, 3)).astype(np.float32)
    d = draws(16, 16, probability)
    got = augment(tf.constant(x), d, policy).numpy()
    expected = numpy_augment(x, {k: v.numpy() for k, v in d.items()}, policy)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    changed = np.abs(got - x).reshape(16, -1).max(axis=1) > 1e-6
    if probability == 1.0:
        assert changed.mean() > 0.8  # (a zero shift or a cut-out mostly outside leave a few alike)
    else:
        assert 0.1 < changed.mean() < 1.0


def test_one_channel_and_bfloat16():
    x = np.random.default_rng(1).uniform(-1, 1, (8, 32, 32, 1)).astype(np.float32)
    d = draws(8, 32, 1.0)
    expected = numpy_augment(x, {k: v.numpy() for k, v in d.items()}, ALL)
    np.testing.assert_allclose(augment(tf.constant(x), d, ALL).numpy(), expected, rtol=1e-5, atol=1e-5)
    got = augment(tf.constant(x, tf.bfloat16), d, ALL)
    assert got.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(), expected, atol=0.05)


def test_draws_cover_their_ranges_and_follow_the_probability():
    n, side = 4000, 32
    d = {k: v.numpy() for k, v in draws(n, side, 0.3).items()}
    r, s = translation_radius(side), cutout_side(side)
    assert (r, s) == (4, 16)
    assert set(np.unique(d["shift"])) == set(range(-r, r + 1))
    assert set(np.unique(d["cutout"])) == set(range(0, side + 1))  # an even side: centres 0..side
    assert -0.5 <= d["brightness"].min() and d["brightness"].max() < 0.5
    assert 0.0 <= d["saturation"].min() and d["saturation"].max() < 2.0
    assert 0.5 <= d["contrast"].min() and d["contrast"].max() < 1.5
    assert d["apply"].shape == (n, len(STAGES))
    assert abs(d["apply"].mean() - 0.3) < 0.02
    assert not draws(n, side, 0.0)["apply"].numpy().any() and draws(n, side, 1.0)["apply"].numpy().all()


def test_the_same_key_gives_the_same_draws_and_another_key_others():
    a, b, c = draws(32, 16, 0.5, (1, 2)), draws(32, 16, 0.5, (1, 2)), draws(32, 16, 0.5, (1, 3))
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    assert not np.array_equal(a["brightness"].numpy(), c["brightness"].numpy())


def test_the_gradient_is_the_transpose_of_the_operation():
    """d sum(w * aug(x)) / dx: zero in a cut-out hole and where translation shifts pixels out, w moved back
    by the shift elsewhere (the operation is linear in x for translation and cutout)."""
    x = tf.constant(np.random.default_rng(2).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32))
    w = np.random.default_rng(3).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    d = draws(4, 16, 1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = augment(x, d, ("translation", "cutout"))
        loss = tf.reduce_sum(w * y)
    grad = tape.gradient(loss, x).numpy()
    # The same gradient from the numpy operation: its Jacobian applied column by column is its
    # transpose; for a linear map, <w, A e_k> for every pixel k.
    dn = {k: v.numpy() for k, v in d.items()}
    flat = np.zeros(x.shape, np.float64)
    expected = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape[1:3]):
        flat[:] = 0
        flat[(slice(None), *idx, slice(None))] = 1.0
        out = numpy_augment(flat, dn, ("translation", "cutout"))
        expected[(slice(None), *idx, slice(None))] = (w * out).reshape(4, -1, 3).sum(axis=1)
    np.testing.assert_allclose(grad, expected, atol=1e-5)
    assert (grad == 0).mean() > 0.2 and (grad != 0).mean() > 0.3
