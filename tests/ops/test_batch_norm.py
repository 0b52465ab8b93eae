"""Training-mode batch normalization in both forms against Keras' ``BatchNormalization`` (the layer
whose computation the reference form follows) and against numpy float64; the fused form's fallback
where the statistics are synchronized over several replicas."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.ops.batch_norm import batch_norm, batch_norm_inference

EPS = 1e-5


def _x(seed=0, shape=(6, 4, 4, 8)):
    return 3.0 + 2.0 * np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("impl", ["reference", "fast"])
def test_normalization_and_statistics_equal_numpy(impl):
    x = _x()
    normalized, mean, variance = batch_norm(tf.constant(x, tf.float32), EPS, impl=impl)
    want_mean, want_var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(mean.numpy(), want_mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(variance.numpy(), want_var, rtol=1e-4)  # biased, as batch norm normalizes
    np.testing.assert_allclose(normalized.numpy(), (x - want_mean) / np.sqrt(want_var + EPS), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("impl", ["reference", "fast"])
def test_equals_keras_batch_normalization_in_training(impl, dtype):
    """Output and moving averages of Keras' layer (momentum 0.9) from the returned statistics."""
    x = tf.cast(tf.constant(_x(1), tf.float32), dtype)
    policy = "mixed_bfloat16" if dtype == "bfloat16" else "float32"  # float32 statistics, as in the networks
    keras_bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=EPS, center=False, scale=False, dtype=policy)
    want = keras_bn(x, training=True)
    normalized, mean, variance = batch_norm(x, EPS, impl=impl)
    assert normalized.dtype == x.dtype and mean.dtype == variance.dtype == tf.float32
    tol = 1e-5 if dtype == "float32" else 2 * 2.0**-8
    got, want = np.asarray(tf.cast(normalized, tf.float64)), np.asarray(tf.cast(want, tf.float64))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    np.testing.assert_allclose(0.1 * mean.numpy(), keras_bn.moving_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(0.9 + 0.1 * variance.numpy(), keras_bn.moving_variance.numpy(), rtol=1e-5)


def test_inference_normalizes_with_the_given_statistics():
    x = _x(2)
    mean, variance = np.linspace(-1, 1, 8), np.linspace(0.5, 2, 8)
    got = batch_norm_inference(tf.constant(x, tf.float32), tf.constant(mean, tf.float32), tf.constant(variance, tf.float32), EPS)
    np.testing.assert_allclose(got.numpy(), (x - mean) / np.sqrt(variance + EPS), rtol=1e-5, atol=1e-5)


def test_synchronized_statistics_over_replicas_use_the_reference_form(mirrored):
    """The fused kernel computes a replica's own statistics: with ``synchronized`` over two replicas
    the fast form runs the reference one, and both replicas normalize with the global batch's."""
    x = _x(3, (8, 4, 4, 8)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensors(x).unbatch().batch(8)

    @tf.function
    def step(batch):
        def replica(t):
            return batch_norm(t, EPS, synchronized=True, impl="fast")

        return mirrored.run(replica, args=(batch,))

    batch = next(iter(mirrored.experimental_distribute_dataset(dataset)))
    normalized, mean, variance = step(batch)
    for replica_mean in mirrored.experimental_local_results(mean):
        np.testing.assert_allclose(replica_mean.numpy(), x.mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-5)
    got = np.concatenate([t.numpy() for t in mirrored.experimental_local_results(normalized)])
    want = (x - x.mean(axis=(0, 1, 2))) / np.sqrt(x.var(axis=(0, 1, 2)) + EPS)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
