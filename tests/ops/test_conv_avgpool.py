"""``avgpool2x2(conv3x3(x))`` in both forms against numpy float64, and the folded kernel."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.ops.conv_avgpool import conv3x3_avgpool, fold_avgpool
from tests.helpers.numpy_layers import np_conv_same


def _np_conv_then_avgpool(x, k):
    c = np_conv_same(x, k)
    b, h, w, o = c.shape
    return c.reshape(b, h // 2, 2, w // 2, 2, o).mean(axis=(2, 4))


@pytest.mark.parametrize("impl", ["reference", "fast"])
def test_equals_numpy_conv_then_average_pool(impl):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 6, 10, 4))  # even, non-square
    k = rng.normal(size=(3, 3, 4, 6))
    out = conv3x3_avgpool(tf.constant(x, tf.float32), tf.constant(k, tf.float32), impl=impl)
    assert out.shape == (2, 3, 5, 6)
    np.testing.assert_allclose(out.numpy(), _np_conv_then_avgpool(x, k), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="even sizes"):
        conv3x3_avgpool(tf.zeros([1, 5, 4, 4]), tf.constant(k, tf.float32), impl=impl)


def test_the_folded_kernel_is_the_pooled_taps():
    k = np.random.default_rng(2).normal(size=(3, 3, 2, 5))
    folded = fold_avgpool(tf.constant(k, tf.float64)).numpy()
    weights = np.array([[0.5, 0, 0], [0.5, 0.5, 0], [0, 0.5, 0.5], [0, 0, 0.5]])
    np.testing.assert_allclose(folded, np.einsum("ra,cb,abio->rcio", weights, weights, k), rtol=1e-12)
