"""Sums over all axes but the channels (matmuls with ones), against numpy float64."""

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.ops.channel_sums import sum_per_channel, sum_per_example


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
