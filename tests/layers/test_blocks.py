"""Residual blocks against a float64 numpy composition of their own (spectrally normalized) weights.

Every convolution, batch norm, ReLU, up- and down-sampling is re-done in numpy from the kernels
``normalized_weight(False)`` and the batch-norm parameters the block holds. Float32 vs float64
through two 3x3 convolutions: rtol=1e-4, atol=1e-4 (outputs of order 1).
"""

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers import DiscriminatorBlock, GeneratorBlock
from sagan_tf.layers.running_state import frozen_state
from sagan_tf.training.precision import policy_scope
from tests.helpers.numpy_layers import np_block_sums, np_generator_block, np_relu, np_sn_conv, np_up
from tests.helpers.traced import (
    COMPUTE_DTYPE,
    as_float64,
    compute_dtypes,
    custom_gradient_scopes,
    generator_conv1_output_gradient,
    heavy_op_dtypes,
    op_counts,
    relative_error,
    traced_gradients,
    unit_roundoff,
    variable_dtypes,
    xla_kernels,
)

RTOL = 1e-4
ATOL = 1e-4


def _np_avg_pool(x):
    return np_block_sums(x) / 4.0


def _randomize(block, rng, with_bn_stats=False):
    """Random conv biases, class gammas/betas (and moving statistics) so that each one matters."""

    def assign(var, value):
        var.assign(np.asarray(value, np.float32))

    for name in ("conv1", "conv2", "shortcut"):
        if hasattr(block, name):
            bias = getattr(block, name).layer.bias
            assign(bias, 0.3 * rng.normal(size=tuple(bias.shape)))
    for name in ("bn1", "bn2"):
        if hasattr(block, name):
            cbn = getattr(block, name)
            shape = tuple(cbn.gamma.embeddings.shape)
            assign(cbn.gamma.embeddings, 1.0 + 0.3 * rng.normal(size=shape))
            assign(cbn.beta.embeddings, 0.3 * rng.normal(size=shape))
            if with_bn_stats:
                assign(cbn.batch_norm.moving_mean, 0.3 * rng.normal(size=shape[1:]))
                assign(cbn.batch_norm.moving_variance, rng.uniform(0.5, 2.0, size=shape[1:]))


# ----------------------------------------------------------------------------- generator block


def _make_generator_block(seed, upsample=True, with_bn_stats=False, precision="float32"):
    """A G block built under the dtype policy ``precision``, as ``training.builders`` builds G."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    with policy_scope(precision):
        block = GeneratorBlock(8, num_classes=3, upsample=upsample, ops="fast")
        shape = (4, 8, 8, 16)
        block.build(shape)
    _randomize(block, rng, with_bn_stats)
    x = rng.normal(size=shape)
    labels = np.array([0, 2, 1, 2])
    return block, x, labels


@pytest.mark.parametrize("upsample", [True, False])
def test_generator_block_batch_statistics(upsample):
    block, x, labels = _make_generator_block(0, upsample)
    expected = np_generator_block(block, x, labels, training=True, upsample=upsample)
    with frozen_state():  # batch statistics, but sigma from the stored u
        out = block(tf.constant(x, tf.float32), tf.constant(labels), training=True).numpy()
    side = 16 if upsample else 8
    assert out.shape == (4, side, side, 8)
    assert block.compute_output_shape((4, 8, 8, 16)) == (4, side, side, 8)
    np.testing.assert_allclose(out, expected, rtol=RTOL, atol=ATOL)


# The fused path: the XLA kernels of the CBN affine + ReLU (forward and backward, twice), of the
# residual sum with the upsampled shortcut, and a custom gradient (a matmul sum) for each of the
# three bias additions; the unfused path has only the upsampling's custom gradient.
NOT_FUSED = "upsample_conv,conv_avgpool,batch_norm"  # the fast forms without the fused element-wise kernels
FUSED_KERNELS = collections.Counter({"_forward": 2, "_backward_elementwise": 2, "_add_upsampled_kernel": 1})
FUSED_CUSTOM_GRADIENTS = collections.Counter(["cbn1", "cbn2", "sn_conv1", "sn_conv2", "sn_shortcut", ""])


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_generator_block_fused_training_gradients_equal_the_unfused_ones(precision):
    """In training, G's block runs its element-wise work as fused kernels (CBN affine + ReLU, the
    upsampled residual sum, bias gradients by matmul): the output and the gradients for the input
    and every weight equal those of TensorFlow's separate ops, computed in the same precision.

    Tolerances. float32: the two paths add the same terms in another order (sums of at most
    1024 terms, measured differences at most 2e-6 of each tensor's scale): rtol=atol=1e-5 of the scale.
    bfloat16 (unit roundoff u = 2^-8): each path rounds every element-wise result once to bfloat16
    and accumulates sums in float32 (products of two bfloat16 are exact in float32), so a gradient
    element can differ only where the float32 sum falls on the other side of a rounding boundary:
    one bfloat16 step, 2u of the element; atol 2u of the tensor's largest element (measured: equal).
    The forward values are the same op by op (run eagerly, the outputs are equal), but TensorFlow's
    graph optimiser rewrites the sums of the two traced graphs differently, so an output element
    may be rounded in other places: a few roundings of output-sized tensors, at most u each, 4u in
    norm relative to the output (measured 0.8u).
    """
    block, x, labels = _make_generator_block(1, precision=precision)
    compute = COMPUTE_DTYPE[precision]
    assert set(compute_dtypes(block).values()) == {compute}, compute_dtypes(block)
    assert variable_dtypes(block) == {"float32"}
    tx, ty = tf.constant(x, tf.float32), tf.constant(labels)
    weights = tf.constant(np.random.default_rng(2).normal(size=(4, 16, 16, 8)), tf.float32)
    graph, names, fused = traced_gradients(block, (tx, ty), weights, training=True)
    unfused_graph, _, unfused = traced_gradients(block, (tx, ty), weights, training=True, ops=NOT_FUSED)

    assert xla_kernels(graph) == FUSED_KERNELS
    assert custom_gradient_scopes(graph, block.name) == FUSED_CUSTOM_GRADIENTS
    assert op_counts(graph, "Relu", "ReluGrad") == {"Relu": 0, "ReluGrad": 0}
    assert xla_kernels(unfused_graph) == collections.Counter()
    assert custom_gradient_scopes(unfused_graph, block.name) == collections.Counter([""])  # upsample_nearest's
    assert op_counts(unfused_graph, "Relu", "ReluGrad") == {"Relu": 2, "ReluGrad": 2}
    assert heavy_op_dtypes(graph) == heavy_op_dtypes(unfused_graph) == {compute}
    assert fused[0].dtype == unfused[0].dtype == compute

    u = unit_roundoff(compute)
    noise = _conv1_bias_noise_bound(block, tx, ty, weights)
    assert len(names) == 12
    for name, got, want in zip(names, map(as_float64, fused), map(as_float64, unfused), strict=True):
        if name.endswith("conv1/bias"):
            assert np.all(np.abs(got) <= noise) and np.all(np.abs(want) <= noise), (name, got, want, noise)
            continue
        scale = np.abs(want).max()
        if compute == "float32":
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale, err_msg=name)
        elif name == "output":
            assert relative_error(got, want) <= 4 * u, (name, relative_error(got, want))
        else:
            np.testing.assert_allclose(got, want, rtol=2 * u, atol=2 * u * scale, err_msg=name)


def _conv1_bias_noise_bound(block, x, labels, loss_weights):
    """Per channel, a bound on the computed gradient of conv1's bias in training, whose exact value
    is 0: batch norm follows conv1 and subtracts the batch mean, so a constant added to its input
    changes nothing.

    The computed value is ``sum_i g_i`` over the N = batch x height x width elements g_i of the
    gradient at conv1's output, which the batch norm's gradient makes sum to 0 in exact arithmetic.
    Each g_i is rounded to the compute dtype (relative error <= u) and the sum accumulates in
    float32 (error <= N 2^-24 sum_i |g_i|), so |computed| <= (u + N 2^-24) sum_i |g_i|; a factor 2
    covers the float32 arithmetic inside the batch-norm gradient.
    """
    g = generator_conv1_output_gradient(block, x, labels, loss_weights)
    count = np.prod(g.shape[:-1])
    u = unit_roundoff(block.compute_dtype)
    return 2 * (u + count * 2.0**-24) * np.abs(g).sum(axis=(0, 1, 2))


def test_generator_block_inference_uses_moving_statistics():
    block, x, labels = _make_generator_block(1, with_bn_stats=True)
    expected = np_generator_block(block, x, labels, training=False)
    out = block(tf.constant(x, tf.float32), tf.constant(labels), training=False).numpy()
    np.testing.assert_allclose(out, expected, rtol=RTOL, atol=ATOL)


def test_generator_block_hand_composition_of_sublayers():
    # The same composition through the block's own Keras sub-layers (upsampling by np.repeat).
    block, x, labels = _make_generator_block(2, with_bn_stats=True)
    y = tf.constant(labels)
    h = np.maximum(block.bn1(tf.constant(x, tf.float32), y, training=False).numpy(), 0)
    h = block.conv1(tf.constant(np_up(h)), training=False)
    h = tf.nn.relu(block.bn2(h, y, training=False))
    h = block.conv2(h, training=False).numpy()
    expected = h + block.shortcut(tf.constant(np_up(x).astype(np.float32)), training=False).numpy()
    out = block(tf.constant(x, tf.float32), y, training=False).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)  # float32 vs float32


def test_generator_block_labels_matter():
    block, x, _ = _make_generator_block(3, with_bn_stats=True)
    tx = tf.constant(x, tf.float32)
    out0 = block(tx, tf.zeros([4], tf.int32), training=False).numpy()
    out1 = block(tx, tf.ones([4], tf.int32), training=False).numpy()
    assert np.abs(out0 - out1).max() > 1e-2
    np.testing.assert_allclose(out1, np_generator_block(block, x, np.ones(4, int), False), rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------------------- discriminator block


def _np_discriminator_block(block, x, optimized, downsample, learnable):
    down = _np_avg_pool if downsample else (lambda t: t)
    h = x if optimized else np_relu(x)
    h = np_sn_conv(block.conv1, h)
    h = np_sn_conv(block.conv2, np_relu(h))
    h = down(h)
    if not learnable:
        return h + x
    if optimized:  # pool, then 1x1 conv (the image is not ReLU'd)
        return h + np_sn_conv(block.shortcut, down(x))
    return h + down(np_sn_conv(block.shortcut, x))


@pytest.mark.parametrize(
    "optimized, downsample, c_in, c_out, learnable",
    [
        (True, True, 3, 8, True),  # first block on the image
        (False, True, 8, 16, True),  # down-block, 1x1 shortcut then pool
        (False, False, 8, 16, True),  # no downsampling, channel change: 1x1 shortcut
        (False, False, 8, 8, False),  # no downsampling, same channels: identity shortcut
    ],
)
def test_discriminator_block(optimized, downsample, c_in, c_out, learnable):
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    block = DiscriminatorBlock(c_out, downsample=downsample, optimized=optimized)
    shape = (2, 8, 8, c_in)
    block.build(shape)
    _randomize(block, rng)
    assert block.learnable_shortcut == learnable
    assert hasattr(block, "shortcut") == learnable
    x = rng.normal(size=shape)
    expected = _np_discriminator_block(block, x, optimized, downsample, learnable)
    out = block(tf.constant(x, tf.float32), training=False).numpy()
    side = 4 if downsample else 8
    assert out.shape == (2, side, side, c_out)
    assert tuple(block.compute_output_shape(shape)) == (2, side, side, c_out)
    np.testing.assert_allclose(out, expected, rtol=RTOL, atol=ATOL)


def test_discriminator_block_relu_on_input_unless_optimized():
    # A negative input: the non-optimized block ReLUs it away in the residual branch, the optimized
    # block does not. Both still match their numpy compositions.
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    x = -np.abs(rng.normal(size=(2, 8, 8, 8)))
    for optimized in (True, False):
        block = DiscriminatorBlock(8, downsample=True, optimized=optimized)
        block.build(x.shape)
        _randomize(block, rng)
        out = block(tf.constant(x, tf.float32), training=False).numpy()
        expected = _np_discriminator_block(block, x, optimized, True, True)
        np.testing.assert_allclose(out, expected, rtol=RTOL, atol=ATOL)
        if not optimized:
            # Residual branch sees relu(x) = 0: output = pool(conv2(relu(b1))) + pool(shortcut(x)).
            b1 = block.conv1.layer.bias.numpy().astype(np.float64)
            h = np_sn_conv(block.conv2, np_relu(np.broadcast_to(b1, x.shape)))  # conv1(0) = its bias
            np.testing.assert_allclose(
                out, _np_avg_pool(h) + _np_avg_pool(np_sn_conv(block.shortcut, x)), rtol=RTOL, atol=ATOL
            )


@pytest.mark.parametrize("cls, kwargs, shape", [
    (GeneratorBlock, dict(filters=8, num_classes=3, bn_momentum=0.8, upsample=True), (2, 4, 4, 8)),
    (DiscriminatorBlock, dict(filters=8, downsample=False, optimized=False), (2, 8, 8, 8)),
])
def test_block_serialization_round_trip(cls, kwargs, shape):
    keras.utils.set_random_seed(6)
    rng = np.random.default_rng(6)
    block = cls(**kwargs)
    block.build(shape)
    _randomize(block, rng, with_bn_stats=True)
    clone = keras.layers.deserialize(keras.layers.serialize(block))
    assert isinstance(clone, cls)
    for key, value in kwargs.items():
        assert getattr(clone, key) == value
    if not clone.built:
        clone.build(shape)
    clone.set_weights(block.get_weights())
    x = tf.constant(rng.normal(size=shape), tf.float32)
    args = (x, tf.constant([0, 2])) if cls is GeneratorBlock else (x,)
    np.testing.assert_array_equal(clone(*args, training=False).numpy(), block(*args, training=False).numpy())
