"""G's and D's residual blocks with every op in its fast form against the same blocks with every op in
its reference form (``ops="fast"`` and ``ops="reference"``), values and gradients, in inference and
in training, in float32 and in bfloat16 (blocks built under the dtype policy, as the networks are),
with the graph of each checked to hold the folded (or the reference) convolutions; and the spectral
norm wrapper computing an op of ``sagan_tf.ops`` with its kernel."""

import collections
from functools import partial

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import ops
from sagan_tf.layers import DiscriminatorBlock, GeneratorBlock, SpectralNormalization
from sagan_tf.training.precision import policy_scope
from tests.helpers import traced

# Tolerances of the fast against the reference forms.
#
# float32: the folded kernel's taps are float32 sums of the 3x3 taps and the convolutions add the
# products in another order: a few float32 roundings (2^-24) of sums of at most a few hundred
# terms, through at most two convolutions and two batch norms (measured: at most 8e-7 of each
# tensor's largest element): rtol=1e-5, atol=1e-5 of the tensor's largest element.
#
# bfloat16 (unit roundoff u = 2^-8): each path rounds every result element once, accumulating in
# float32; the folded path also rounds its summed taps, the textbook path the 3x3 taps and, in G,
# the upsampled input of conv1. Everything computed from values that agree up to these roundings
# differs by at most 2u per path: 4u in norm relative to the tensor (measured over 30 seeds: at most
# 1.8u for one layer, 1.9u for D's blocks, 1.8u for G's output and the gradients of its last
# convolutions). Gradients that pass back through a ReLU whose input differs between the paths (in
# G, conv1 feeds a batch norm and a ReLU) differ more: where a pre-activation z lies within its
# rounding difference d of 0 the two masks pass or stop that element's whole gradient. For the
# normalized pre-activations (density at 0 at most about 0.4 per unit, d about u = 4e-3) that is a
# fraction f = 2 d 0.4 = 3e-3 of the elements, a relative difference of about sqrt(f) = 0.06 in norm
# (measured over 30 seeds: at most 0.11); tolerance 0.25.
F32_TOL = 1e-5
BF16_NORM_ULPS = 4
BEHIND_RELU_TOL = 0.25


def _assert_paths_agree(name, got, want, compute, behind_relu=False):
    if compute == "float32":
        np.testing.assert_allclose(got, want, rtol=F32_TOL, atol=F32_TOL * np.abs(want).max(), err_msg=name)
        return
    tol = BEHIND_RELU_TOL if behind_relu else BF16_NORM_ULPS * traced.unit_roundoff(compute)
    assert traced.relative_error(got, want) <= tol, (name, traced.relative_error(got, want), tol)


def _sn_pair(filters=6, seed=0, precision="float32"):
    keras.utils.set_random_seed(seed)
    with policy_scope(precision):
        make = lambda name: SpectralNormalization(keras.layers.Conv2D(filters, 3, padding="same", name=name))  # noqa: E731
        a, b = make("a"), make("b")
    a.build((None, 8, 8, 4))
    b.build((None, 8, 8, 4))
    for va, vb in zip(a.weights, b.weights, strict=True):
        vb.assign(va)
    a.layer.bias.assign(np.linspace(-1, 1, filters).astype(np.float32))
    b.layer.bias.assign(np.linspace(-1, 1, filters).astype(np.float32))
    return a, b


def _assert_sn_layers_agree(x, folded_call, textbook_call, shape, precision):
    """Two SN layers with the same weights, built under the dtype policy ``precision``: outputs,
    gradients (input, kernel, bias) and the advanced u of the folded and the textbook computation
    agree."""
    folded, textbook = _sn_pair(precision=precision)
    compute = traced.COMPUTE_DTYPE[precision]
    assert folded.layer.compute_dtype == textbook.layer.compute_dtype == compute
    results = []
    for layer, call in ((folded, folded_call), (textbook, textbook_call)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = call(layer, x)
            loss = tf.reduce_sum(tf.sin(tf.cast(y, tf.float32)))
        results.append([y] + tape.gradient(loss, [x, layer.layer.kernel, layer.layer.bias]) + [layer.u])
    assert results[0][0].shape == shape
    assert results[0][0].dtype == results[1][0].dtype == compute
    for name, got, want in zip(("output", "input", "kernel", "bias", "u"), *results, strict=True):
        _assert_paths_agree(name, traced.as_float64(got), traced.as_float64(want), compute)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_spectral_norm_with_the_fast_upsampling_convolution_matches_upsampling_first(precision):
    x = tf.constant(np.random.default_rng(1).normal(size=(3, 4, 4, 4)), tf.float32)
    _assert_sn_layers_agree(
        x, lambda layer, t: layer(t, training=True, op=partial(ops.upsample_conv3x3, impl="fast")),
        lambda layer, t: layer(ops.upsample_nearest(t), training=True), (3, 8, 8, 6), precision,
    )


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_spectral_norm_with_the_fast_pooled_convolution_matches_pooling_after(precision):
    x = tf.constant(np.random.default_rng(6).normal(size=(3, 8, 8, 4)), tf.float32)
    _assert_sn_layers_agree(
        x, lambda layer, t: layer(t, training=True, op=partial(ops.conv3x3_avgpool, impl="fast")),
        lambda layer, t: ops.downsample_avg(layer(t, training=True)), (3, 4, 4, 6), precision,
    )


def _block_paths(block, inputs, loss_weights, training):
    """The block (built with ``ops="fast"``) traced as it is and as a copy with ``ops="reference"``,
    in the dtype policy it was built with: ``(graphs, names, results)``, graphs and results as
    ``(fast, reference)``."""
    compute = block.compute_dtype
    assert str(block.ops) == "fast"
    assert set(traced.compute_dtypes(block).values()) == {compute}, traced.compute_dtypes(block)
    optimized_graph, names, optimized = traced.traced_gradients(block, inputs, loss_weights, training)
    textbook_graph, _, textbook = traced.traced_gradients(block, inputs, loss_weights, training, ops="reference")
    for graph in (optimized_graph, textbook_graph):
        assert traced.heavy_op_dtypes(graph) == {compute}
    assert optimized[0].dtype == textbook[0].dtype == compute
    return (optimized_graph, textbook_graph), names, ([*map(traced.as_float64, optimized)], [*map(traced.as_float64, textbook)])


PRECISIONS = ["float32", "mixed_bfloat16"]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("optimized, downsample, channels", [(True, True, 3), (False, True, 6), (False, True, 8)])
def test_discriminator_block_fast_equals_reference(optimized, downsample, channels, training, precision):
    """D's down-block with avgpool2 folded into conv2 (and, in training, its bias additions with
    matmul gradients) against the reference forms, both in the block's precision: output and
    gradients for the input and every weight."""
    keras.utils.set_random_seed(7)
    with policy_scope(precision):
        block = DiscriminatorBlock(8, downsample=downsample, optimized=optimized, ops="fast")
        block.build((4, 8, 8, channels))
    for v in block.trainable_weights:  # nonzero biases: they must commute with the pooling too
        if v.path.endswith("bias"):
            v.assign(np.linspace(-0.5, 0.5, v.shape[0]).astype(np.float32))
    x = tf.constant(np.random.default_rng(8).normal(size=(4, 8, 8, channels)), tf.float32)
    loss_weights = tf.constant(np.random.default_rng(9).normal(size=(4, 4, 4, 8)), tf.float32)
    graphs, names, results = _block_paths(block, (x,), loss_weights, training)

    compute = traced.COMPUTE_DTYPE[precision]
    one, two = (1, 1, 1, 1), (1, 2, 2, 1)
    assert traced.forward_convolutions(graphs[0], block.name) == [  # avgpool2(conv3x3(h)) as a stride-2 convolution
        ("sn_conv1", "Conv2D", one, compute), ("sn_conv2", "Conv2D", two, compute), ("sn_shortcut", "Conv2D", one, compute),
    ]
    assert traced.forward_convolutions(graphs[1], block.name) == [
        (scope, "Conv2D", one, compute) for scope in ("sn_conv1", "sn_conv2", "sn_shortcut")
    ]
    bias_gradients = collections.Counter(["sn_conv1", "sn_conv2", "sn_shortcut"] if training else [])
    assert traced.custom_gradient_scopes(graphs[0], block.name) == bias_gradients
    assert traced.custom_gradient_scopes(graphs[1], block.name) == collections.Counter()

    assert results[0][0].shape == (4, 4, 4, 8)
    for name, got, want in zip(names, *results, strict=True):
        _assert_paths_agree(name, got, want, compute)  # D's ReLUs see the same values in both paths


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("training", [False, True])
def test_generator_block_fast_equals_reference(training, precision):
    """G's up-block with up2 folded into conv1 (and, in training, the fused element-wise kernels)
    against the reference forms, both in the block's precision: output and gradients for the input
    and every weight."""
    keras.utils.set_random_seed(2)
    with policy_scope(precision):
        block = GeneratorBlock(8, num_classes=3, ops="fast")
        block.build((4, 4, 4, 6))
    x = tf.constant(np.random.default_rng(3).normal(size=(4, 4, 4, 6)), tf.float32)
    labels = tf.constant([0, 1, 2, 1])
    loss_weights = tf.constant(np.random.default_rng(4).normal(size=(4, 8, 8, 8)), tf.float32)
    graphs, names, results = _block_paths(block, (x, labels), loss_weights, training)

    compute = traced.COMPUTE_DTYPE[precision]
    one = (1, 1, 1, 1)
    assert traced.forward_convolutions(graphs[0], block.name) == [
        ("sn_conv1", "Conv2DBackpropInput", (1, 2, 2, 1), compute),  # conv3x3(up2(h)) as a transposed convolution
        ("sn_conv2", "Conv2D", one, compute), ("sn_shortcut", "Conv2D", one, compute),
    ]
    assert traced.forward_convolutions(graphs[1], block.name) == [
        (scope, "Conv2D", one, compute) for scope in ("sn_conv1", "sn_conv2", "sn_shortcut")
    ]
    # Upsampled: the textbook path's conv1 input and shortcut input; the folded path's shortcut
    # output, in training inside the fused residual sum.
    assert traced.op_counts(graphs[0], "ResizeNearestNeighbor") == {"ResizeNearestNeighbor": 0 if training else 1}
    assert traced.op_counts(graphs[1], "ResizeNearestNeighbor") == {"ResizeNearestNeighbor": 2}
    fused = collections.Counter({"_forward": 2, "_backward_elementwise": 2, "_add_upsampled_kernel": 1})
    assert traced.xla_kernels(graphs[0]) == (fused if training else collections.Counter())
    assert traced.xla_kernels(graphs[1]) == collections.Counter()

    noise = None
    if training:  # conv1's bias gradient is 0 up to rounding (tests/layers/test_blocks.py)
        g = traced.generator_conv1_output_gradient(block, x, labels, loss_weights)
        noise = 2 * (traced.unit_roundoff(compute) + np.prod(g.shape[:-1]) * 2.0**-24) * np.abs(g).sum(axis=(0, 1, 2))
    after_last_relu = ("output", "conv2/", "shortcut/")
    for name, got, want in zip(names, *results, strict=True):
        if noise is not None and name.endswith("conv1/bias"):
            assert np.all(np.abs(got) <= noise) and np.all(np.abs(want) <= noise), (name, got, want, noise)
            continue
        _assert_paths_agree(name, got, want, compute, behind_relu=not any(k in name for k in after_last_relu))


@pytest.mark.parametrize("impl", ["reference", "fast"])
def test_the_resampling_convolutions_need_a_3x3_kernel(impl):
    x = tf.random.normal([2, 4, 4, 3])
    one_by_one = SpectralNormalization(keras.layers.Conv2D(4, 1))
    one_by_one.build((None, 4, 4, 3))
    for op in (ops.upsample_conv3x3, ops.conv3x3_avgpool):
        with pytest.raises(ValueError, match="3x3"):
            one_by_one(x, op=partial(op, impl=impl))
