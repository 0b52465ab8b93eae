"""2x nearest upsampling, its gradient, the fused residual sum with an upsampled shortcut, and 2x2
average pooling, against numpy float64."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers.resample import add_upsampled, downsample_avg, upsample_nearest
from tests.helpers.numpy_layers import np_block_sums, np_up


def test_upsample_nearest_is_repeat():
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 4)).astype(np.float32)
    out = upsample_nearest(tf.constant(x)).numpy()
    assert out.shape == (2, 6, 10, 4)
    np.testing.assert_array_equal(out, np_up(x))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_upsample_gradient_sums_each_2x2_block(jit_compile):
    """The same gradient in TensorFlow's graph and under XLA (which has no ResizeNearestNeighborGrad)."""
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 3, 5, 4)), tf.float32)
    dy = np.random.default_rng(1).normal(size=(2, 6, 10, 4))

    @tf.function(jit_compile=jit_compile)
    def grad(x, dy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = upsample_nearest(x)
        return tape.gradient(y, x, output_gradients=dy)

    np.testing.assert_allclose(grad(x, tf.constant(dy, tf.float32)).numpy(), np_block_sums(dy), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("dtype, tol", [(tf.float32, 1e-5), (tf.bfloat16, 3e-2)])
def test_add_upsampled_value_and_gradients(fused, dtype, tol):
    rng = np.random.default_rng(2)
    h, s, dy = rng.normal(size=(2, 6, 8, 3)), rng.normal(size=(2, 3, 4, 3)), rng.normal(size=(2, 6, 8, 3))
    th, ts, tdy = (tf.constant(t, dtype) for t in (h, s, dy))
    with tf.GradientTape() as tape:
        tape.watch([th, ts])
        y = add_upsampled(th, ts, fused=fused)
    dh, ds = tape.gradient(y, [th, ts], output_gradients=tdy)
    as64 = lambda t: np.asarray(tf.cast(t, tf.float64))  # noqa: E731
    np.testing.assert_allclose(as64(y), as64(th) + np_up(as64(ts)), rtol=tol, atol=tol)
    np.testing.assert_array_equal(as64(dh), as64(tdy))
    np.testing.assert_allclose(as64(ds), np_block_sums(as64(tdy)), rtol=tol, atol=tol)


def test_downsample_avg_is_2x2_mean():
    x = np.random.default_rng(1).normal(size=(2, 4, 6, 3))
    out = downsample_avg(tf.constant(x, tf.float32)).numpy()
    np.testing.assert_allclose(out, np_block_sums(x) / 4.0, rtol=1e-6, atol=1e-6)
