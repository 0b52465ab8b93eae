"""SpectralNormalization against numpy: SVD, a hand power-iteration step, explicit gradients.

References are float64 numpy (or float64 TF for the gradient). The layer runs in float32, so the
tolerances are rtol=1e-5 / atol=1e-5 for values of order 1 unless a comment says otherwise.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers import SpectralNormalization
from sagan_tf.layers.running_state import frozen_state
from tests.helpers.numpy_layers import KINDS, make_wrapped, np_forward, tf_input, weight_of

RTOL = 1e-5  # float32 layer vs float64 reference, values of order 1
ATOL = 1e-5


# ----------------------------------------------------------------------------- numpy references


def _normalize(x):
    return x / np.linalg.norm(x)


def _matrix(kind, w):
    """(fan_in, out) view of a kernel; Conv2DTranspose kernels are (kh, kw, out, in)."""
    if kind == "conv2d_transpose":
        w = np.transpose(w, (0, 1, 3, 2))
    return w.reshape(-1, w.shape[-1])


def _u(layer):
    return np.asarray(layer.u.numpy(), np.float64)


def _w64(layer):
    return np.asarray(weight_of(layer).numpy(), np.float64)


# ----------------------------------------------------------------------------- sigma ~ 1


@pytest.mark.parametrize("kind", KINDS)
def test_largest_singular_value_converges_to_one(kind):
    layer, x = make_wrapped(kind)
    x = tf_input(kind, x)
    call = tf.function(lambda t: layer(t, training=True))
    for _ in range(200):  # 200 power iterations; the gap of these random matrices makes this plenty
        call(x)
    w_sn = layer.normalized_weight(False).numpy().astype(np.float64)
    s = np.linalg.svd(_matrix(kind, w_sn), compute_uv=False)
    assert abs(s[0] - 1.0) < 1e-3, s[0]
    # And the raw weight had a spectral norm far from 1, so the normalization did something.
    s_raw = np.linalg.svd(_matrix(kind, _w64(layer)), compute_uv=False)
    assert abs(s_raw[0] - 1.0) > 0.5


@pytest.mark.parametrize("kind", KINDS)
def test_inference_sigma_is_a_lower_bound_on_a_fresh_layer(kind):
    # sigma = v W u^T with unit u, v is a Rayleigh-type quotient, so sigma <= sigma_max(W) and the
    # largest singular value of W / sigma is >= 1, whatever the (un-trained, random) stored u is.
    layer, _ = make_wrapped(kind, seed=3)
    w_sn = layer.normalized_weight(False).numpy().astype(np.float64)
    s = np.linalg.svd(_matrix(kind, w_sn), compute_uv=False)
    assert s[0] >= 1.0 - 1e-5, s[0]


# ----------------------------------------------------------------------------- forward pass


@pytest.mark.parametrize("kind", KINDS)
def test_training_forward_is_one_power_iteration_step(kind):
    layer, x = make_wrapped(kind)
    u0 = _u(layer)
    w = _matrix(kind, _w64(layer))
    v = _normalize(u0 @ w.T)
    u1 = _normalize(v @ w)
    sigma = (v @ w @ u1.T).item()
    expected = np_forward(kind, layer, x, _w64(layer) / sigma)

    out = layer(tf_input(kind, x), training=True).numpy()
    np.testing.assert_allclose(out, expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(_u(layer), u1, rtol=RTOL, atol=1e-6)  # the new stored u is u'


@pytest.mark.parametrize("kind", KINDS)
def test_inference_forward_uses_stored_u(kind):
    layer, x = make_wrapped(kind)
    tf_x = tf_input(kind, x)
    layer(tf_x, training=True)  # u is now a (unit) power-iteration iterate
    u = _u(layer)
    w = _matrix(kind, _w64(layer))
    v = _normalize(u @ w.T)
    sigma = (v @ w @ _normalize(u).T).item()
    expected = np_forward(kind, layer, x, _w64(layer) / sigma)
    np.testing.assert_allclose(layer(tf_x, training=False).numpy(), expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        layer.normalized_weight(False).numpy(), _w64(layer) / sigma, rtol=RTOL, atol=1e-6
    )


# ----------------------------------------------------------------------------- gradient


def _tf_op(kind, x, w):
    if kind == "dense":
        return tf.matmul(x, w)
    return tf.nn.conv2d(x, w, strides=1, padding="SAME")


@pytest.mark.parametrize("kind", ["dense", "conv2d"])
def test_kernel_gradient_flows_through_sigma(kind):
    layer, x = make_wrapped(kind)
    rng = np.random.default_rng(7)
    u0 = _u(layer)
    w0 = _w64(layer)
    bias = layer.layer.bias.numpy().astype(np.float64)
    out_shape = np_forward(kind, layer, x, w0).shape
    r = rng.normal(size=out_shape)

    with tf.GradientTape() as tape:
        y = layer(tf.constant(x, tf.float32), training=True)
        loss = tf.reduce_sum(y * tf.constant(r, tf.float32))
    grad = tape.gradient(loss, layer.layer.kernel.value).numpy().astype(np.float64)

    # Hand-built float64 TF: W / sigma(W), u and v constants (one power-iteration step from u0).
    w_var = tf.Variable(w0)
    x64 = tf.constant(x)
    with tf.GradientTape() as tape:
        w_mat = tf.reshape(w_var, [-1, w0.shape[-1]])
        v = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(tf.constant(u0), w_mat, transpose_b=True)))
        u1 = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(v, w_mat)))
        sigma = tf.reshape(tf.matmul(tf.matmul(v, w_mat), u1, transpose_b=True), [])
        y_ref = _tf_op(kind, x64, w_var / sigma) + bias
        loss_ref = tf.reduce_sum(y_ref * r)
    grad_ref = tape.gradient(loss_ref, w_var).numpy()
    scale = np.abs(grad_ref).max()
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-4, atol=1e-5 * scale)  # float32 sums

    # The gradient with sigma held constant is G / sigma: it must be measurably different.
    sigma_c = float(sigma.numpy())
    with tf.GradientTape() as tape:
        loss_c = tf.reduce_sum((_tf_op(kind, x64, w_var / sigma_c) + bias) * r)
    grad_const = tape.gradient(loss_c, w_var).numpy()
    assert np.abs(grad - grad_const).max() > 1e-2 * scale

    if kind == "dense":
        # Closed form (Miyato et al. eq. 12): dL/dW = (G - <G, W_sn> v^T u') / sigma, G = x^T r.
        g = x.T @ r
        v_np = v.numpy()
        u_np = u1.numpy()
        closed = (g - np.sum(g * w0 / sigma_c) * (v_np.T @ u_np)) / sigma_c
        np.testing.assert_allclose(grad, closed, rtol=1e-4, atol=1e-5 * scale)


# ----------------------------------------------------------------------------- state of u


@pytest.mark.parametrize("kind", KINDS)
def test_u_advances_only_in_training(kind):
    layer, x = make_wrapped(kind)
    tf_x = tf_input(kind, x)
    u0 = layer.u.numpy().copy()
    out_inference = layer(tf_x, training=False).numpy()
    assert np.array_equal(layer.u.numpy(), u0)  # bitwise unchanged

    with frozen_state():
        out_frozen = layer(tf_x, training=True).numpy()
        frozen_fn = tf.function(lambda t: layer(t, training=True))
        frozen_fn(tf_x)  # the flag is read when the function is traced
    assert np.array_equal(layer.u.numpy(), u0)
    np.testing.assert_allclose(out_frozen, out_inference, rtol=1e-6, atol=1e-6)

    layer(tf_x, training=True)
    assert not np.allclose(layer.u.numpy(), u0, rtol=1e-3, atol=1e-3)


def test_u_is_non_trainable_first_replica_variable():
    layer, _ = make_wrapped("dense")
    assert layer.u.trainable is False
    assert any(w is layer.u for w in layer.non_trainable_weights)
    assert not any(w is layer.u for w in layer.trainable_weights)
    assert layer.u.aggregation == "only_first_replica"
    assert layer.u.value.aggregation == tf.VariableAggregation.ONLY_FIRST_REPLICA


def test_u_identical_on_replicas_under_mirrored_strategy(mirrored):
    rng = np.random.default_rng(11)
    w0 = rng.normal(size=(6, 8)).astype(np.float32)
    u0 = rng.normal(size=(1, 8)).astype(np.float32)
    x_parts = [rng.normal(size=(3, 6)).astype(np.float32), 5.0 + rng.normal(size=(3, 6)).astype(np.float32)]

    strategy = mirrored
    with strategy.scope():
        layer = SpectralNormalization(keras.layers.Dense(8, use_bias=False))
        layer.build((None, 6))
    layer.layer.kernel.assign(w0)
    layer.u.assign(u0)
    assert isinstance(layer.u.value, tf.distribute.DistributedValues)
    assert layer.u.value.aggregation == tf.VariableAggregation.ONLY_FIRST_REPLICA

    x = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(x_parts[ctx.replica_id_in_sync_group])
    )

    @tf.function
    def step(inputs):
        return strategy.run(lambda t: layer(t, training=True), args=(inputs,))

    outs = [o.numpy() for o in strategy.experimental_local_results(step(x))]
    replicas = [r.numpy() for r in strategy.experimental_local_results(layer.u.value)]
    assert len(replicas) == 2
    assert np.array_equal(replicas[0], replicas[1])

    # Single-device result: a fresh layer with the same weights, one training call.
    single = SpectralNormalization(keras.layers.Dense(8, use_bias=False))
    single.build((None, 6))
    single.layer.kernel.assign(w0)
    single.u.assign(u0)
    single_out = single(tf.constant(np.concatenate(x_parts)), training=True).numpy()
    np.testing.assert_allclose(replicas[0], single.u.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.concatenate(outs), single_out, rtol=RTOL, atol=ATOL)
    # ... which is the numpy power-iteration step.
    w64, u64 = w0.astype(np.float64), u0.astype(np.float64)
    u1 = _normalize(_normalize(u64 @ w64.T) @ w64)
    np.testing.assert_allclose(replicas[0], u1, rtol=RTOL, atol=1e-6)

    # A freeze entered inside the replica function holds on every replica.
    @tf.function
    def frozen_step(inputs):
        def fn(t):
            with frozen_state():
                return layer(t, training=True)

        return strategy.run(fn, args=(inputs,))

    frozen_step(x)
    for r in strategy.experimental_local_results(layer.u.value):
        assert np.array_equal(r.numpy(), replicas[0])


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize("kind", KINDS)
def test_serialization_round_trip(kind):
    layer, x = make_wrapped(kind)
    layer.power_iterations = 2
    layer.epsilon = 1e-10
    tf_x = tf_input(kind, x)
    layer(tf_x, training=True)
    config = keras.layers.serialize(layer)
    clone = keras.layers.deserialize(config)
    assert isinstance(clone, SpectralNormalization)
    assert type(clone.layer) is type(layer.layer)
    assert clone.power_iterations == 2 and clone.epsilon == 1e-10
    assert clone.get_config() == layer.get_config()
    if not clone.built:  # deserialize restores the build config when there is one
        clone.build(x.shape if kind != "embedding" else (None,))
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(tf_x, training=False).numpy(), layer(tf_x, training=False).numpy())
    np.testing.assert_array_equal(clone(tf_x, training=True).numpy(), layer(tf_x, training=True).numpy())


def test_power_iterations_argument():
    with pytest.raises(ValueError):
        SpectralNormalization(keras.layers.Dense(4), power_iterations=0)
    with pytest.raises(TypeError):
        SpectralNormalization(keras.layers.BatchNormalization())

    # Two iterations per call == two calls with one iteration (u and the output of the last call).
    layer2, x = make_wrapped("dense", seed=5)
    layer1, _ = make_wrapped("dense", seed=5)
    layer2.power_iterations = 2
    tf_x = tf.constant(x, tf.float32)
    u0 = _u(layer1)
    out2 = layer2(tf_x, training=True).numpy()
    layer1(tf_x, training=True)
    out1 = layer1(tf_x, training=True).numpy()
    np.testing.assert_allclose(layer2.u.numpy(), layer1.u.numpy(), rtol=1e-5, atol=1e-6)
    w = _matrix("dense", _w64(layer1))
    u = u0
    for _ in range(2):
        v = _normalize(u @ w.T)
        u = _normalize(v @ w)
    sigma = (v @ w @ u.T).item()
    np.testing.assert_allclose(out2, np_forward("dense", layer2, x, _w64(layer2) / sigma), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out1, out2, rtol=1e-5, atol=1e-5)
