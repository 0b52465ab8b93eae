"""PlainKernel (a layer of G without spectral norm, SAGAN section 5.1) against numpy with the stored kernel.

References are float64 numpy on the stored weight variables; the layer runs in float32
(rtol=1e-5 / atol=1e-5 for values of order 1, 1e-4 after a 3x3 convolution of 16 channels).
"""

from functools import partial

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import ops
from sagan_tf.layers.kernel_wrapper import PlainKernel
from sagan_tf.layers.spectral_norm import SpectralNormalization, kernel_layer
from tests.helpers.numpy_layers import KINDS, make_wrapped, np_conv_same, np_forward, np_up, stored_weight, tf_input

RTOL = 1e-5
ATOL = 1e-5


def make_plain(kind, seed=0):
    """A built PlainKernel with random N(0, 1) weights (far from unit spectral norm) and an input."""
    return make_wrapped(kind, seed, wrapper=PlainKernel)


@pytest.mark.parametrize("kind", KINDS)
def test_plain_kernel_computes_the_stored_kernel(kind):
    layer, x = make_plain(kind)
    w = stored_weight(layer)
    sigma = np.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0]
    assert sigma > 2.0  # a normalized kernel would give visibly different outputs
    expected = np_forward(kind, layer, x, w)
    for training in (False, True):
        out = layer(tf_input(kind, x), training=training).numpy()
        np.testing.assert_allclose(out, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", KINDS)
def test_plain_kernel_has_only_the_wrapped_weights(kind):
    layer, _ = make_plain(kind)
    assert [v.path.split("/")[-1] for v in layer.variables] == [v.path.split("/")[-1] for v in layer.layer.variables]
    assert not layer.non_trainable_variables
    assert not any("sn_u" in v.path for v in layer.variables)


def test_plain_kernel_gradient_is_the_plain_layers():
    layer, x = make_plain("dense", seed=3)
    x = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True) ** 2)
    grad = tape.gradient(loss, layer.layer.kernel.value).numpy()
    # d/dW sum((xW + b)^2) = 2 x^T (xW + b)
    xn, w, b = x.numpy().astype(np.float64), stored_weight(layer), layer.layer.bias.numpy().astype(np.float64)
    np.testing.assert_allclose(grad, 2 * xn.T @ (xn @ w + b), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("impl", ["reference", "fast"])
def test_plain_kernel_computes_an_op_with_the_stored_kernel(impl):
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    layer = PlainKernel(keras.layers.Conv2D(8, 3, padding="same"))
    x = rng.normal(size=(2, 5, 5, 16))
    layer.build((2, 10, 10, 16))
    layer.layer.bias.assign(rng.normal(size=(8,)).astype(np.float32))
    out = layer(tf.constant(x, tf.float32), op=partial(ops.upsample_conv3x3, impl=impl)).numpy()
    expected = np_conv_same(np_up(x), stored_weight(layer), layer.layer.bias.numpy().astype(np.float64))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_kernel_layer_names_and_kinds():
    normalized = kernel_layer(keras.layers.Dense(4, name="linear"))
    plain = kernel_layer(keras.layers.Dense(4, name="linear"), spectral_norm=False)
    assert isinstance(normalized, SpectralNormalization) and normalized.name == "sn_linear"
    assert isinstance(plain, PlainKernel) and not isinstance(plain, SpectralNormalization)
    assert plain.name == "plain_linear"


def test_plain_kernel_round_trips_through_its_config():
    layer, x = make_plain("conv2d", seed=2)
    clone = PlainKernel.from_config(layer.get_config())
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(tf.constant(x, tf.float32)).numpy(), layer(tf.constant(x, tf.float32)).numpy())


def test_plain_kernel_refuses_other_layers():
    with pytest.raises(TypeError, match="PlainKernel wraps Dense"):
        PlainKernel(keras.layers.ReLU())
