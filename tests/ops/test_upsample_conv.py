"""``conv3x3(upsample_nearest(x))`` in both forms against numpy float64, and the folded kernel's taps."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.ops.upsample_conv import fold_nearest_upsample, upsample_conv3x3
from tests.helpers.numpy_layers import np_conv_same


def _np_upsample_then_conv(x, k, bias):
    """np.repeat upsampling, then a 'same' 3x3 cross-correlation, in float64."""
    return np_conv_same(np.repeat(np.repeat(x, 2, axis=1), 2, axis=2), k) + bias


@pytest.mark.parametrize("impl", ["reference", "fast"])
def test_equals_numpy_upsample_then_conv(impl):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 4))  # odd, non-square: borders on every side
    k = rng.normal(size=(3, 3, 4, 6))
    out = upsample_conv3x3(tf.constant(x, tf.float32), tf.constant(k, tf.float32), impl=impl)
    assert out.shape == (2, 6, 10, 6)
    np.testing.assert_allclose(out.numpy() + 0.5, _np_upsample_then_conv(x, k, 0.5), rtol=1e-5, atol=1e-5)


def test_the_folded_kernel_sums_the_taps_each_output_phase_sees():
    """Tap (r, c) of the transposed kernel is the sum of the 3x3 taps FOLD_UP selects (module docstring)."""
    k = np.random.default_rng(1).normal(size=(3, 3, 2, 5))
    folded = fold_nearest_upsample(tf.constant(k, tf.float64)).numpy()
    assert folded.shape == (4, 4, 5, 2)
    rows = [[2], [1, 2], [0, 1], [0]]
    for r in range(4):
        for c in range(4):
            want = sum(k[a, b] for a in rows[r] for b in rows[c]).T
            np.testing.assert_allclose(folded[r, c], want, rtol=1e-12)
