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


# Unit roundoff u of each format (half its spacing at 1): rounding a value v errs by at most u |v|.
UNIT_ROUNDOFF = {"bfloat16": 2.0**-8, "float16": 2.0**-11}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_one_channel_in_float32_bfloat16_and_float16_equals_numpy(dtype):
    x = np.random.default_rng(1).uniform(-1, 1, (8, 32, 32, 1)).astype(np.float32)
    d = draws(8, 32, 1.0)
    dn = {k: v.numpy() for k, v in d.items()}
    expected = numpy_augment(x, dn, ALL)
    np.testing.assert_allclose(augment(tf.constant(x), d, ALL).numpy(), expected, rtol=1e-5, atol=1e-5)
    got = augment(tf.constant(x, dtype), d, ALL)
    assert got.dtype == dtype
    # The tolerance: a first-order bound of the rounding errors, each at most u times the magnitude of
    # the value rounded, times what later steps multiply it by. With one channel only brightness and
    # contrast round: saturation is the identity (x - x = 0 exactly, then 0 * s + x = x), translation
    # gathers and cut-out multiplies by 0 or 1, both exact. Contrast computes (y - m) c + m with
    # y = x + b, m = mean(y) over the image, that is c y + (1 - c) m:
    # - y: the casts of x (|x| <= 1) and b (|b| <= 0.5) and the sum (|y| <= 1.5): at most 3u, reaching
    #   the output through y and m with weights c + |1 - c| <= 2 (c in [0.5, 1.5)): 6u;
    # - the mean's own summation and division error e_m (measured below: TF sums bfloat16 in float32,
    #   float16 in float16), through m with weight |1 - c| <= 0.5;
    # - the cast of c (|c| < 1.5), the difference y - m (|y - m| <= dev), the product (<= 1.5 dev),
    #   each at most 1.5 u dev at the output; the final sum, u |out|.
    # Eight rounding steps on values of at most ~1.7: bound = u (6 + 4.5 dev + max|out|) + e_m / 2,
    # here 12.4u: 0.048 for bfloat16 (the former tolerance, 0.05, barely above), 0.0061 for float16
    # (the largest errors seen: 0.015 and 0.0019, 3.9u).
    u = UNIT_ROUNDOFF[dtype]
    y = x.astype(np.float64) + dn["brightness"][:, None, None, None]
    dev = np.abs(y - y.mean(axis=(1, 2, 3), keepdims=True)).max()
    y_low = tf.constant(x, dtype) + tf.cast(dn["brightness"], dtype)[:, None, None, None]
    e_m = np.abs(tf.cast(tf.reduce_mean(y_low, axis=[1, 2, 3]), tf.float64).numpy()
                 - tf.cast(y_low, tf.float64).numpy().mean(axis=(1, 2, 3))).max()
    assert e_m <= 2 * u * 1.5  # within two roundings of the largest |y|: the bound's premise
    bound = u * (6 + 4.5 * dev + np.abs(expected).max()) + e_m / 2
    assert bound < 13 * u
    np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(), expected, rtol=0, atol=bound)


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


@pytest.mark.parametrize("policy", [("translation", "cutout"), ALL], ids=["translation,cutout", "all"])
def test_the_gradient_is_the_transpose_of_the_operation(policy):
    """d sum(w * aug(x)) / dx = A^T w. For fixed draws every operation is affine, aug(x) = A x + aug(0):
    translation and cutout move or zero pixels (zero gradient in a cut-out hole and where pixels are
    shifted out), brightness adds a constant, saturation and contrast mix each value with the mean
    over its pixel's channels and over the whole image (their gradients go through those means)."""
    x = tf.constant(np.random.default_rng(2).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32))
    w = np.random.default_rng(3).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    d = draws(4, 16, 1.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = augment(x, d, policy)
        loss = tf.reduce_sum(w * y)
    grad = tape.gradient(loss, x).numpy()
    # The same gradient from the numpy operation: (A^T w)_k = <w, A e_k> = <w, aug(e_k) - aug(0)> for
    # every value k (pixel and channel) of each image.
    dn = {k: v.numpy() for k, v in d.items()}
    zero = numpy_augment(np.zeros(x.shape), dn, policy)
    basis = np.zeros(x.shape, np.float64)
    expected = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape[1:]):
        basis[:] = 0
        basis[(slice(None), *idx)] = 1.0
        column = numpy_augment(basis, dn, policy) - zero
        expected[(slice(None), *idx)] = (w * column).reshape(4, -1).sum(axis=1)
    np.testing.assert_allclose(grad, expected, atol=1e-5)
    if policy == ALL:  # the colour operations change the gradient everywhere (contrast's image mean)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(w * augment(x, d, ("translation", "cutout")))
        assert (np.abs(tape.gradient(loss, x).numpy() - grad) > 1e-3).mean() > 0.9
    else:
        assert (grad == 0).mean() > 0.2 and (grad != 0).mean() > 0.3
