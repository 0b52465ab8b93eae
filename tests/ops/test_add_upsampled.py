"""G's residual sum with its upsampled shortcut, h + up2(s), both forms, against numpy float64."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.ops.add_upsampled import add_upsampled
from tests.helpers.numpy_layers import np_block_sums, np_up
from tests.helpers.op_forms import value_and_gradients


@pytest.mark.parametrize("impl", ["reference", "fast"])
@pytest.mark.parametrize("dtype, tol", [(tf.float32, 1e-5), (tf.bfloat16, 3e-2)])
def test_add_upsampled_value_and_gradients(impl, dtype, tol):
    rng = np.random.default_rng(2)
    h, s, dy = (np.asarray(tf.cast(tf.constant(t, dtype), tf.float64)) for t in (
        rng.normal(size=(2, 6, 8, 3)), rng.normal(size=(2, 3, 4, 3)), rng.normal(size=(2, 6, 8, 3))))
    y, dh, ds = value_and_gradients(lambda a, b: add_upsampled(a, b, impl=impl), [h, s], dy, dtype)
    np.testing.assert_allclose(y, h + np_up(s), rtol=tol, atol=tol)
    np.testing.assert_array_equal(dh, dy)
    np.testing.assert_allclose(ds, np_block_sums(dy), rtol=tol, atol=tol)
