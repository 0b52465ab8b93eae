"""2x nearest upsampling, its gradient (also under XLA) and 2x2 average pooling, against numpy float64."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.ops.resample import downsample_avg, upsample_nearest
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


def test_downsample_avg_is_2x2_mean():
    x = np.random.default_rng(1).normal(size=(2, 4, 6, 3))
    out = downsample_avg(tf.constant(x, tf.float32)).numpy()
    np.testing.assert_allclose(out, np_block_sums(x) / 4.0, rtol=1e-6, atol=1e-6)
