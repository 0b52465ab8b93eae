"""Sums over all axes but the channels (matmuls with ones) and the bias add, against numpy float64."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers.channel_sums import add_bias, sum_per_channel, sum_per_example


@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (3, 6)])
def test_sums_match_numpy(shape):
    t = np.random.default_rng(0).normal(size=shape)
    np.testing.assert_allclose(sum_per_channel(tf.constant(t, tf.float32)).numpy(), t.reshape(-1, shape[-1]).sum(0),
                               rtol=1e-5, atol=1e-5)
    per_example = t.reshape(shape[0], -1, shape[-1]).sum(1)
    np.testing.assert_allclose(sum_per_example(tf.constant(t, tf.float32)).numpy(), per_example, rtol=1e-5, atol=1e-5)


def test_bfloat16_sums_accumulate_beyond_bfloat16():
    """4096 terms 1 + 2^-7 sum to 4128 (exact in bfloat16); a running sum in bfloat16 would stall at
    512, where neighbouring bfloat16 values are 4 apart."""
    t = tf.fill([4, 32, 32, 2], tf.constant(1.0 + 2.0**-7, tf.bfloat16))
    np.testing.assert_array_equal(sum_per_channel(t).numpy().astype(np.float64), [4128.0, 4128.0])


@pytest.mark.parametrize("dtype, tol", [(tf.float32, 1e-5), (tf.bfloat16, 2e-2)])
def test_add_bias_value_and_gradients(dtype, tol):
    rng = np.random.default_rng(1)
    x, bias, dy = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=5), rng.normal(size=(2, 3, 4, 5))
    tx, tb, tdy = (tf.constant(t, dtype) for t in (x, bias, dy))
    with tf.GradientTape() as tape:
        tape.watch([tx, tb])
        y = add_bias(tx, tb)
    dx, db = tape.gradient(y, [tx, tb], output_gradients=tdy)
    as64 = lambda t: np.asarray(tf.cast(t, tf.float64))  # noqa: E731
    np.testing.assert_allclose(as64(y), as64(tx) + as64(tb), rtol=tol, atol=tol)
    np.testing.assert_array_equal(as64(dx), as64(tdy))
    np.testing.assert_allclose(as64(db), as64(tdy).sum(axis=(0, 1, 2)), rtol=tol, atol=tol * 5)


def test_add_bias_in_bfloat16_equals_the_plain_addition_in_bfloat16():
    """The same sum, and gradients within one rounding: the value and dx are the plain op's
    (``x + bias`` rounded once; dx = dy); the bias gradient is a float32-accumulated sum rounded
    once to bfloat16 in both (the matmul with ones here, TensorFlow's reduction there), so they
    differ at most by one bfloat16 step (2^-7 of the value) plus twice the float32 accumulation
    error of the other order (N 2^-24 of the sum of |dy|, N = 4096 terms)."""
    rng = np.random.default_rng(2)
    shape = (4, 32, 32, 8)
    tx, tb, tdy = (tf.constant(t, tf.bfloat16) for t in (rng.normal(size=shape), rng.normal(size=8), rng.normal(size=shape)))
    results = []
    for add in (add_bias, lambda x, b: x + b):
        with tf.GradientTape() as tape:
            tape.watch([tx, tb])
            y = add(tx, tb)
        results.append([y, *tape.gradient(y, [tx, tb], output_gradients=tdy)])
    (y, dx, db), (want_y, want_dx, want_db) = ([np.asarray(tf.cast(t, tf.float64)) for t in r] for r in results)
    assert results[0][2].dtype == tf.bfloat16
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(dx, want_dx)
    count = np.prod(shape[:-1])
    abs_sums = np.abs(np.asarray(tf.cast(tdy, tf.float64))).sum(axis=(0, 1, 2))
    assert np.all(np.abs(db - want_db) <= 2.0**-7 * np.abs(want_db) + 2 * count * 2.0**-24 * abs_sums)
