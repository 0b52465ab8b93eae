"""``x + bias`` in both forms against numpy float64, and the fast form against the plain addition in bfloat16."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.ops.bias_add import bias_add, fast_bias_add, reference_bias_add
from tests.helpers.op_forms import value_and_gradients


@pytest.mark.parametrize("impl", ["reference", "fast"])
@pytest.mark.parametrize("dtype, tol", [(tf.float32, 1e-5), (tf.bfloat16, 2e-2)])
def test_bias_add_value_and_gradients(impl, dtype, tol):
    rng = np.random.default_rng(1)
    x, bias, dy = (np.asarray(tf.cast(tf.constant(t, dtype), tf.float64)) for t in (
        rng.normal(size=(2, 3, 4, 5)), rng.normal(size=5), rng.normal(size=(2, 3, 4, 5))))
    y, dx, db = value_and_gradients(lambda a, b: bias_add(a, b, impl=impl), [x, bias], dy, dtype)
    np.testing.assert_allclose(y, x + bias, rtol=tol, atol=tol)
    np.testing.assert_array_equal(dx, dy)
    np.testing.assert_allclose(db, dy.sum(axis=(0, 1, 2)), rtol=tol, atol=tol * 5)


def test_fast_bias_add_in_bfloat16_equals_the_plain_addition_in_bfloat16():
    """The same sum, and gradients within one rounding: the value and dx are the plain op's
    (``x + bias`` rounded once; dx = dy); the bias gradient is a float32-accumulated sum rounded
    once to bfloat16 in both (the matmul with ones here, TensorFlow's reduction there), so they
    differ at most by one bfloat16 step (2^-7 of the value) plus twice the float32 accumulation
    error of the other order (N 2^-24 of the sum of |dy|, N = 4096 terms)."""
    rng = np.random.default_rng(2)
    shape = (4, 32, 32, 8)
    tx, tb, tdy = (tf.constant(t, tf.bfloat16) for t in (rng.normal(size=shape), rng.normal(size=8), rng.normal(size=shape)))
    results = []
    for add in (fast_bias_add, reference_bias_add):
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
