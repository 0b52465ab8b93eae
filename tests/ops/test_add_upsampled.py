"""G's residual sum with its upsampled shortcut, h + up2(s), both forms, against numpy float64."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.ops.add_upsampled import add_upsampled
from tests.helpers.numpy_layers import np_block_sums, np_up


@pytest.mark.parametrize("impl", ["reference", "fast"])
@pytest.mark.parametrize("dtype, tol", [(tf.float32, 1e-5), (tf.bfloat16, 3e-2)])
def test_add_upsampled_value_and_gradients(impl, dtype, tol):
    rng = np.random.default_rng(2)
    h, s, dy = rng.normal(size=(2, 6, 8, 3)), rng.normal(size=(2, 3, 4, 3)), rng.normal(size=(2, 6, 8, 3))
    th, ts, tdy = (tf.constant(t, dtype) for t in (h, s, dy))
    with tf.GradientTape() as tape:
        tape.watch([th, ts])
        y = add_upsampled(th, ts, impl=impl)
    dh, ds = tape.gradient(y, [th, ts], output_gradients=tdy)
    as64 = lambda t: np.asarray(tf.cast(t, tf.float64))  # noqa: E731
    np.testing.assert_allclose(as64(y), as64(th) + np_up(as64(ts)), rtol=tol, atol=tol)
    np.testing.assert_array_equal(as64(dh), as64(tdy))
    np.testing.assert_allclose(as64(ds), np_block_sums(as64(tdy)), rtol=tol, atol=tol)
