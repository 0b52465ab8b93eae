"""ConditionalBatchNormalization against float64 numpy batch normalization.

The layer runs in float32; normalized outputs of order 1 are compared with rtol=1e-5, atol=1e-5
(a little looser, 2e-5, where the variance of inputs with mean ~3 is computed as E[x^2] - E[x]^2).
"""

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers import ConditionalBatchNormalization
from sagan_tf.layers.running_state import frozen_state
from sagan_tf.training.precision import policy_scope
from tests.helpers.traced import (
    COMPUTE_DTYPE,
    as_float64,
    compute_dtypes,
    heavy_op_dtypes,
    op_counts,
    unit_roundoff,
    xla_kernels,
)

RTOL = 1e-5
ATOL = 1e-5
EPS = 1e-5  # the layer's default epsilon
SHAPE = (6, 4, 4, 8)


def _np_bn(x, mean, var, gamma, beta, eps=EPS):
    """(x - mean) / sqrt(var + eps) * gamma + beta; gamma/beta (B, C) per example."""
    xhat = (x - mean) / np.sqrt(var + eps)
    return xhat * gamma[:, None, None, :] + beta[:, None, None, :]


def _batch_stats(x):
    return x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))  # biased variance, as in batch norm


def _make(num_classes=3, seed=0, randomize=True, precision="float32", **kwargs):
    """A layer built under the dtype policy ``precision`` (as ``training.builders`` builds G)."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    with policy_scope(precision):
        layer = ConditionalBatchNormalization(num_classes, **kwargs)
        layer.build(SHAPE)
    rows = max(num_classes, 1)
    if randomize:
        layer.gamma.embeddings.assign((1.0 + 0.5 * rng.normal(size=(rows, SHAPE[-1]))).astype(np.float32))
        layer.beta.embeddings.assign(rng.normal(size=(rows, SHAPE[-1])).astype(np.float32))
    x = 3.0 + 2.0 * rng.normal(size=SHAPE)
    return layer, x


def _gb(layer):
    g = layer.gamma.embeddings.numpy().astype(np.float64)
    b = layer.beta.embeddings.numpy().astype(np.float64)
    return g, b


def test_training_output_is_batch_norm_with_class_gamma_beta():
    layer, x = _make()
    labels = np.array([0, 1, 2, 2, 1, 0])
    g, b = _gb(layer)
    mean, var = _batch_stats(x)
    expected = _np_bn(x, mean, var, g[labels], b[labels])
    out = layer(tf.constant(x, tf.float32), tf.constant(labels), training=True).numpy()
    np.testing.assert_allclose(out, expected, rtol=RTOL, atol=2e-5)


def test_labels_of_shape_b1_are_accepted():
    layer, x = _make()
    labels = np.array([2, 1, 0, 0, 1, 2])
    out_flat = layer(tf.constant(x, tf.float32), tf.constant(labels), training=False).numpy()
    out_col = layer(tf.constant(x, tf.float32), tf.constant(labels[:, None]), training=False).numpy()
    np.testing.assert_array_equal(out_col, out_flat)


def test_classes_differ_for_same_input():
    layer, x = _make()
    g, b = _gb(layer)
    tx = tf.constant(x, tf.float32)
    out0 = layer(tx, tf.zeros([6], tf.int32), training=True).numpy()
    out1 = layer(tx, tf.ones([6], tf.int32), training=True).numpy()
    assert np.abs(out0 - out1).max() > 1e-2
    # Same batch statistics, so the difference is (g1 - g0) xhat + (b1 - b0).
    mean, var = _batch_stats(x)
    xhat = (x - mean) / np.sqrt(var + EPS)
    np.testing.assert_allclose(out1 - out0, xhat * (g[1] - g[0]) + (b[1] - b[0]), rtol=1e-4, atol=3e-5)


def test_initial_gamma_one_beta_zero():
    layer, x = _make(num_classes=4, randomize=False)
    g, b = _gb(layer)
    np.testing.assert_array_equal(g, np.ones((4, SHAPE[-1])))
    np.testing.assert_array_equal(b, np.zeros((4, SHAPE[-1])))
    mean, var = _batch_stats(x)
    out = layer(tf.constant(x, tf.float32), tf.constant([0, 1, 2, 3, 3, 0]), training=True).numpy()
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + EPS), rtol=RTOL, atol=2e-5)


def test_moving_statistics_update_only_in_training():
    momentum = 0.8
    layer, x = _make(momentum=momentum)
    bn = layer.batch_norm
    rng = np.random.default_rng(5)
    old_mean = rng.normal(size=SHAPE[-1])
    old_var = rng.uniform(0.5, 2.0, size=SHAPE[-1])
    bn.moving_mean.assign(old_mean.astype(np.float32))
    bn.moving_variance.assign(old_var.astype(np.float32))
    old_mean = bn.moving_mean.numpy().astype(np.float64)
    old_var = bn.moving_variance.numpy().astype(np.float64)
    labels = np.array([0, 1, 2, 0, 1, 2])
    g, b = _gb(layer)
    tx, ty = tf.constant(x, tf.float32), tf.constant(labels)

    # Inference: normalizes with the moving statistics and leaves them untouched (bitwise).
    before = (bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy())
    out = layer(tx, ty, training=False).numpy()
    assert np.array_equal(bn.moving_mean.numpy(), before[0])
    assert np.array_equal(bn.moving_variance.numpy(), before[1])
    np.testing.assert_allclose(out, _np_bn(x, old_mean, old_var, g[labels], b[labels]), rtol=RTOL, atol=2e-5)

    # Training: moving = momentum * old + (1 - momentum) * batch statistic.
    layer(tx, ty, training=True)
    mean, var = _batch_stats(x)
    np.testing.assert_allclose(bn.moving_mean.numpy(), momentum * old_mean + (1 - momentum) * mean, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        bn.moving_variance.numpy(), momentum * old_var + (1 - momentum) * var, rtol=RTOL, atol=2e-5
    )
    assert not np.allclose(bn.moving_mean.numpy(), before[0])


def test_unconditional_is_plain_batch_norm_with_affine():
    layer, x = _make(num_classes=0)
    g, b = _gb(layer)
    assert g.shape == (1, SHAPE[-1]) and b.shape == (1, SHAPE[-1])
    mean, var = _batch_stats(x)
    expected = _np_bn(x, mean, var, np.repeat(g, 6, 0), np.repeat(b, 6, 0))
    tx = tf.constant(x, tf.float32)
    out_none = layer(tx, None, training=True).numpy()
    out_labels = layer(tx, tf.constant([7, 3, 0, 1, 2, 9]), training=True).numpy()  # ignored
    np.testing.assert_allclose(out_none, expected, rtol=RTOL, atol=2e-5)
    np.testing.assert_array_equal(out_labels, out_none)


def test_conditional_needs_labels():
    layer, x = _make()
    with pytest.raises(ValueError):
        layer(tf.constant(x, tf.float32), None, training=True)


def test_serialization_round_trip():
    layer, x = _make(num_classes=3, momentum=0.7, epsilon=1e-3)
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert (clone.num_classes, clone.momentum, clone.epsilon, clone.synchronized) == (3, 0.7, 1e-3, False)
    if not clone.built:
        clone.build(SHAPE)
    clone.set_weights(layer.get_weights())
    tx, ty = tf.constant(x, tf.float32), tf.constant([0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(clone(tx, ty, training=False).numpy(), layer(tx, ty, training=False).numpy())


def _run_mirrored(synchronized, mirrored, x_parts, y_parts, g, b):
    strategy = mirrored
    with strategy.scope():
        layer = ConditionalBatchNormalization(3, momentum=0.9, synchronized=synchronized)
        layer.build((None,) + SHAPE[1:])
    layer.gamma.embeddings.assign(g.astype(np.float32))
    layer.beta.embeddings.assign(b.astype(np.float32))
    x = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(x_parts[ctx.replica_id_in_sync_group], tf.float32)
    )
    y = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(y_parts[ctx.replica_id_in_sync_group])
    )

    @tf.function
    def step(xs, ys):
        return strategy.run(lambda a, c: layer(a, c, training=True), args=(xs, ys))

    outs = [o.numpy() for o in strategy.experimental_local_results(step(x, y))]
    means = [m.numpy() for m in strategy.experimental_local_results(layer.batch_norm.moving_mean.value)]
    return np.concatenate(outs), means


def test_synchronized_uses_global_batch_statistics(mirrored):
    rng = np.random.default_rng(9)
    x_parts = [rng.normal(size=(3,) + SHAPE[1:]), 4.0 + 3.0 * rng.normal(size=(3,) + SHAPE[1:])]
    y_parts = [np.array([0, 1, 2]), np.array([2, 2, 1])]
    g = 1.0 + 0.5 * rng.normal(size=(3, SHAPE[-1]))
    b = rng.normal(size=(3, SHAPE[-1]))
    x_all, y_all = np.concatenate(x_parts), np.concatenate(y_parts)
    # Round the parameters to float32 so the reference uses exactly what the layer holds.
    g, b = g.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)
    x_all = x_all.astype(np.float32).astype(np.float64)
    x_parts = [p.astype(np.float32) for p in x_parts]

    mean, var = _batch_stats(x_all)
    expected = _np_bn(x_all, mean, var, g[y_all], b[y_all])

    out, moving_means = _run_mirrored(True, mirrored, x_parts, y_parts, g, b)
    # E[x^2] - E[x]^2 in float32 with a mean of ~2: slightly looser.
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    for m in moving_means:  # both replicas hold 0.9 * 0 + 0.1 * global mean
        np.testing.assert_allclose(m, 0.1 * mean, rtol=1e-4, atol=1e-5)

    # Without synchronization each replica normalizes with its own statistics: different result.
    local, _ = _run_mirrored(False, mirrored, x_parts, y_parts, g, b)
    assert np.abs(local - expected).max() > 0.1
    local_expected = np.concatenate(
        [_np_bn(p.astype(np.float64), *_batch_stats(p.astype(np.float64)), g[q], b[q]) for p, q in zip(x_parts, y_parts, strict=True)]
    )
    np.testing.assert_allclose(local, local_expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_fast_training_forms_match_the_reference_forms(precision, relu):
    """One replica, training: the fast forms (the fused batch-norm kernel; with ``relu=True`` also the
    affine and the ReLU as XLA kernels, ``ops.scale_shift_relu``) give the reference forms' output,
    gradients (input, per-class gamma and beta) and moving statistics, in the same precision.

    Tolerances. Both paths normalize in float32 and round the result once to the compute dtype,
    then scale, shift (and ReLU) with the same roundings; the gradients are float32 sums rounded
    once. float32: rtol=atol=1e-5 of the tensor's scale (sums of at most 96 terms in another
    order). bfloat16 (u = 2^-8): float32 results that differ in their last bits may round to
    neighbouring bfloat16 values: one step, 2u of the element or, for elements near 0 after a
    cancellation, of the tensor's largest element. The moving statistics are float32 variables
    computed in float32 from the same inputs in both paths: 1e-5.
    """
    compute = COMPUTE_DTYPE[precision]
    fused, x = _make(momentum=0.7, precision=precision, ops="fast")
    reference, _ = _make(momentum=0.7, precision=precision, ops="reference")
    for layer in (fused, reference):
        assert set(compute_dtypes(layer).values()) == {compute}, compute_dtypes(layer)
    tx, ty = tf.constant(x, tf.float32), tf.constant([0, 1, 2, 2, 1, 0])
    loss_weights = tf.sin(tx)
    if relu and compute != "float32":
        # Where the pre-activation is within a rounding of 0, the two ReLUs may pass or stop its
        # gradient: those outputs are left out of the loss.
        with frozen_state():
            pre_activation = tf.cast(reference(tx, ty, training=True), tf.float32)
        away_from_zero = tf.cast(tf.abs(pre_activation) > 0.05, tf.float32)
        assert 0.9 < float(tf.reduce_mean(away_from_zero)) < 1.0
        loss_weights *= away_from_zero
    results, graphs = [], []
    for layer in (fused, reference):

        def step(tx, ty, layer=layer):
            with tf.GradientTape() as tape:
                tape.watch(tx)
                y = layer(tx, ty, training=True, relu=relu)
                loss = tf.reduce_sum(tf.cast(y, tf.float32) * loss_weights)
            grads = tape.gradient(loss, [tx, layer.gamma.embeddings, layer.beta.embeddings])
            return [y, *(tf.convert_to_tensor(g) for g in grads)]

        concrete = tf.function(step).get_concrete_function(tx, ty)
        graphs.append(concrete.graph)
        results.append([*concrete(tx, ty), layer.batch_norm.moving_mean, layer.batch_norm.moving_variance])

    fused_graph, reference_graph = graphs
    assert op_counts(fused_graph, "FusedBatchNormV3", "FusedBatchNormGradV3") == {"FusedBatchNormV3": 1, "FusedBatchNormGradV3": 1}
    assert op_counts(reference_graph, "FusedBatchNormV3", "FusedBatchNormGradV3") == {"FusedBatchNormV3": 0, "FusedBatchNormGradV3": 0}
    fused_kernels = collections.Counter({"_forward": 1, "_backward_elementwise": 1} if relu else {})
    assert xla_kernels(fused_graph) == fused_kernels and xla_kernels(reference_graph) == collections.Counter()
    assert heavy_op_dtypes(fused_graph) == {compute}
    assert results[0][0].dtype == results[1][0].dtype == compute

    names = ("output", "input", "gamma", "beta", "moving_mean", "moving_variance")
    for name, got, want in zip(names, *results, strict=True):
        got, want = as_float64(got), as_float64(want)
        tol = 1e-5 if compute == "float32" or name.startswith("moving") else 2 * unit_roundoff(compute)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max(), err_msg=name)
