"""The fast (fused) ``relu(gamma * x + beta)`` against its closed form in float64 numpy and against the reference form.

y = relu(g x + b); with dz = dy [g x + b > 0]: dx = g dz, dg = sum_hw dz x, db = sum_hw dz.
float32: rtol=atol=1e-5 (sums of 48 terms of order 1); bfloat16: the inputs are rounded to
bfloat16 first and the outputs compared at 1e-2 relative to their scale (8 significant bits).
"""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.ops.scale_shift_relu import fast_scale_shift_relu as scale_shift_relu
from sagan_tf.ops.scale_shift_relu import reference_scale_shift_relu

SHAPE = (3, 4, 6, 5)


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=SHAPE)
    g = 1.0 + 0.5 * rng.normal(size=(SHAPE[0], SHAPE[-1]))
    b = 0.5 * rng.normal(size=(SHAPE[0], SHAPE[-1]))
    x[0, 0, 0, :] = 0.0  # with b = 0 below: pre-activations exactly 0, where ReLU's gradient is 0
    b[0, :] = 0.0
    dy = rng.normal(size=SHAPE)
    return x, g, b, dy


def _closed_form(x, g, b, dy):
    z = g[:, None, None, :] * x + b[:, None, None, :]
    dz = dy * (z > 0)
    return np.maximum(z, 0.0), g[:, None, None, :] * dz, (dz * x).sum(axis=(1, 2)), dz.sum(axis=(1, 2))


def _run(fn, x, g, b, dy, dtype):
    tensors = [tf.constant(t, dtype) for t in (x, g, b, dy)]
    with tf.GradientTape() as tape:
        tape.watch(tensors[:3])
        y = fn(*tensors[:3])
    grads = tape.gradient(y, tensors[:3], output_gradients=tensors[3])
    return [np.asarray(tf.cast(t, tf.float64)) for t in [y, *grads]]


def _unfused(x, g, b):
    return reference_scale_shift_relu(x, g, b)


def test_float32_matches_the_closed_form_and_the_unfused_ops():
    x, g, b, dy = _inputs()
    want = _closed_form(x, g, b, dy)
    got = _run(scale_shift_relu, x, g, b, dy, tf.float32)
    for name, got_t, want_t in zip(("y", "dx", "dgamma", "dbeta"), got, want, strict=True):
        np.testing.assert_allclose(got_t, want_t, rtol=1e-5, atol=1e-5, err_msg=name)
    assert np.all(got[1][0, 0, 0] == 0.0)  # the gradient at pre-activation 0 is 0, as tf.nn.relu's
    for got_t, unfused_t in zip(got, _run(_unfused, x, g, b, dy, tf.float32), strict=True):
        np.testing.assert_allclose(got_t, unfused_t, rtol=1e-6, atol=1e-6)


def test_bfloat16_matches_the_closed_form_of_its_rounded_inputs():
    x, g, b, dy = (np.asarray(tf.cast(tf.cast(t, tf.bfloat16), tf.float64)) for t in _inputs(1))
    want = _closed_form(x, g, b, dy)
    got = _run(scale_shift_relu, x, g, b, dy, tf.bfloat16)
    for name, got_t, want_t in zip(("y", "dx", "dgamma", "dbeta"), got, want, strict=True):
        np.testing.assert_allclose(got_t, want_t, rtol=1e-2, atol=1e-2 * np.abs(want_t).max(), err_msg=name)


def test_bfloat16_matches_the_unfused_ops_in_bfloat16():
    """The fused kernels against TensorFlow's separate ops, both in bfloat16 (unit roundoff
    u = 2^-8), element by element within the rounding each may do differently:

    * y: each path rounds g x and g x + b at most once each (a relative error <= u), so the two
      differ by at most 2u (|g x| + |g x + b|); a pre-activation rounded to the other side of 0
      changes y by less than that too.
    * dx = g dz: a product of two bfloat16 numbers is exact in float32 and rounded once: the same
      value, given the same ReLU mask; the mask can differ only where |g x + b| <= 2u (|g x| +
      |b|), so dy is set to 0 there (none of those here but the exact zeros).
    * dgamma, dbeta: per-element products rounded once, summed in float32 (24 terms: error <=
      24 2^-24 of the sum of their magnitudes) and rounded once: at most one bfloat16 step apart
      (2u of the value) plus twice that float32 error.
    """
    x, g, b, dy = (np.asarray(tf.cast(tf.cast(t, tf.bfloat16), tf.float64)) for t in _inputs(4))
    u = 2.0**-8
    gx = g[:, None, None, :] * x
    z = gx + b[:, None, None, :]
    dy = np.where(np.abs(z) <= 2 * u * (np.abs(gx) + np.abs(b[:, None, None, :])), 0.0, dy)
    fused = _run(scale_shift_relu, x, g, b, dy, tf.bfloat16)
    unfused = _run(_unfused, x, g, b, dy, tf.bfloat16)
    terms = SHAPE[1] * SHAPE[2]
    dz = np.abs(dy) * (z > 0)
    bounds = (
        2 * u * (np.abs(gx) + np.abs(z)),
        2 * u * np.abs(unfused[1]),
        2 * u * np.abs(unfused[2]) + 2 * terms * 2.0**-24 * (dz * np.abs(x)).sum(axis=(1, 2)),
        2 * u * np.abs(unfused[3]) + 2 * terms * 2.0**-24 * dz.sum(axis=(1, 2)),
    )
    for name, got, want, bound in zip(("y", "dx", "dgamma", "dbeta"), fused, unfused, bounds, strict=True):
        excess = np.abs(got - want) - bound
        assert np.all(excess <= 0), (name, excess.max())


def test_unknown_batch_size_in_a_traced_function():
    x, g, b, dy = _inputs(2)
    spec4, spec2 = tf.TensorSpec([None, *SHAPE[1:]], tf.float32), tf.TensorSpec([None, SHAPE[-1]], tf.float32)

    @tf.function(input_signature=[spec4, spec2, spec2, spec4])
    def step(x, g, b, dy):
        with tf.GradientTape() as tape:
            tape.watch([x, g, b])
            y = scale_shift_relu(x, g, b)
        return [y, *tape.gradient(y, [x, g, b], output_gradients=dy)]

    got = [t.numpy() for t in step(*(tf.constant(t, tf.float32) for t in (x, g, b, dy)))]
    for got_t, want_t in zip(got, _closed_form(x, g, b, dy), strict=True):
        np.testing.assert_allclose(got_t, want_t, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
def test_second_call_with_another_shape(dtype):
    """XLA compiles per shape: a new spatial size gives its own correct result."""
    rng = np.random.default_rng(3)
    inputs = [tf.constant(t, dtype) for t in (rng.normal(size=(2, 8, 8, 4)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4)))]
    x, g, b = (np.asarray(tf.cast(t, tf.float64)) for t in inputs)
    want = np.maximum(g[:, None, None, :] * x + b[:, None, None, :], 0.0)
    np.testing.assert_allclose(np.asarray(tf.cast(scale_shift_relu(*inputs), tf.float64)), want, rtol=1e-2, atol=1e-2)
