"""Which computation a layer really runs: the dtype its sublayers compute in, and what the graph of a
traced call holds (XLA-compiled kernels, custom gradients, convolutions with their strides and dtypes).

A test that names a precision or a computation path asserts it with these, so that a block built
outside its dtype policy, or a fused kernel that is not traced, fails the test instead of
comparing a computation with itself.

``unit_roundoff(dtype)`` is the largest relative error of one rounding to ``dtype`` (round to
nearest): 2^-24 for float32, 2^-8 for bfloat16 (8 significant bits).
"""

from __future__ import annotations

import collections
import re

import numpy as np
import tensorflow as tf

from sagan_tf.layers.kernel_wrapper import KernelWrapper

UNIT_ROUNDOFF = {"float32": 2.0**-24, "bfloat16": 2.0**-8}
COMPUTE_DTYPE = {"float32": "float32", "mixed_bfloat16": "bfloat16"}  # dtype policy -> compute dtype

_CALLS = ("PartitionedCall", "StatefulPartitionedCall")
_CONVOLUTIONS = ("Conv2D", "Conv2DBackpropInput")


def unit_roundoff(dtype) -> float:
    return UNIT_ROUNDOFF[tf.as_dtype(dtype).name]


def compute_dtypes(layer) -> dict[str, str]:
    """``{path: compute dtype}`` of ``layer`` and every sublayer that computes. Kernel wrappers
    (spectral norm, plain kernels) are left out: they read their weight in float32 by design and
    run the op in the dtype of the layer they wrap, which is listed."""
    return {
        sub.path: sub.compute_dtype
        for sub in layer._flatten_layers(include_self=True)
        if not isinstance(sub, KernelWrapper)
    }


def variable_dtypes(layer) -> set[str]:
    return {v.dtype for v in layer.weights}


def _scope(op_name: str, root: str) -> str:
    """The layer scope of an op, without the numbering TensorFlow appends to repeated scope names
    and without the scope ``root`` (the layer under test): ``generator_block_1/sn_conv1_1/IdentityN``
    -> ``sn_conv1`` for root ``generator_block``."""
    parts = [_unnumbered(part) for part in op_name.split("/")[:-1]]
    if parts and parts[0] == _unnumbered(root):
        parts = parts[1:]
    return "/".join(parts)


def _unnumbered(name: str) -> str:
    return re.sub(r"(_\d+)+$", "", name)


def xla_kernels(graph: tf.Graph) -> collections.Counter:
    """Calls of XLA-compiled functions (``tf.function(jit_compile=True)``) in ``graph``, forward and
    gradient, by the Python name of the function, with their number."""
    called = collections.Counter()
    for op in graph.get_operations():
        if op.type in _CALLS and op.node_def.attr["_XlaMustCompile"].b:
            called[re.sub(r"^__inference_(.+)_\d+$", r"\1", op.get_attr("f").name)] += 1
    return called


def custom_gradient_scopes(graph: tf.Graph, root: str) -> collections.Counter:
    """Layer scopes (relative to ``root``, '' for ``root`` itself) of the ops whose gradient is a
    ``tf.custom_gradient``, with their number."""
    return collections.Counter(
        _scope(op.name, root)
        for op in graph.get_operations()
        if op.type == "IdentityN" and "_gradient_op_type" in op.node_def.attr
    )


def forward_convolutions(graph: tf.Graph, root: str) -> list[tuple[str, str, tuple[int, ...], str]]:
    """``(scope, op type, strides, dtype)`` of the forward convolutions (``Conv2DBackpropInput``: a
    transposed convolution), sorted."""
    return sorted(
        (_scope(op.name, root), op.type, tuple(op.get_attr("strides")), op.get_attr("T").name)
        for op in graph.get_operations()
        if op.type in _CONVOLUTIONS and not op.name.startswith("gradient_tape/")
    )


def op_counts(graph: tf.Graph, *types: str) -> dict[str, int]:
    """How many ops of each of ``types`` ``graph`` holds."""
    found = collections.Counter(op.type for op in graph.get_operations())
    return {t: found[t] for t in types}


def heavy_op_dtypes(graph: tf.Graph) -> set[str]:
    """Dtypes of the convolutions, their gradients and the batch-norm kernels in ``graph``."""
    heavy = _CONVOLUTIONS + ("Conv2DBackpropFilter", "FusedBatchNormV3", "FusedBatchNormGradV3")
    return {op.get_attr("T").name for op in graph.get_operations() if op.type in heavy}


def relative_error(got, want) -> float:
    """``||got - want|| / ||want||`` over all elements."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def with_ops(layer, ops: str, input_shape):
    """A copy of ``layer`` (class, config, dtype policy, every weight) that runs the forms of
    ``sagan_tf.ops`` named by ``ops``."""
    from sagan_tf.training.precision import policy_scope

    with policy_scope(layer.dtype_policy.name):  # the sublayers it builds take the policy of the scope
        twin = type(layer).from_config({**layer.get_config(), "ops": ops})
        twin.build(input_shape)
    for mine, theirs in zip(twin.weights, layer.weights, strict=True):
        assert mine.path == theirs.path, (mine.path, theirs.path)
        mine.assign(theirs)
    return twin


def traced_gradients(layer, inputs, loss_weights, training, ops=None):
    """``layer(*inputs, training=training)`` and the gradients of ``sum(output * loss_weights)`` for
    ``inputs[0]`` and every trainable weight, as one ``tf.function`` traced inside ``frozen_state()``
    (the running state stays where it is); with ``ops``, of a copy of ``layer`` running those forms
    of ``sagan_tf.ops`` (``with_ops``).

    Returns ``(graph, names, values)``: the traced graph, ``["output", "input", *weight paths]`` and
    the computed tensors (the output in the layer's dtype, the gradients dense).
    """
    from sagan_tf.layers.running_state import frozen_state

    if ops is not None:
        layer = with_ops(layer, ops, inputs[0].shape)
    weights = layer.trainable_weights

    def step(*args):
        with tf.GradientTape() as tape:
            tape.watch(args[0])
            output = layer(*args, training=training)
            loss = tf.reduce_sum(tf.cast(output, tf.float32) * loss_weights)
        return [output, *(tf.convert_to_tensor(g) for g in tape.gradient(loss, [args[0], *weights]))]

    with frozen_state():
        concrete = tf.function(step).get_concrete_function(*inputs)
    return concrete.graph, ["output", "input", *(w.path for w in weights)], concrete(*inputs)


def as_float64(t) -> np.ndarray:
    return np.asarray(tf.cast(t, tf.float64))


def generator_conv1_output_gradient(block, x, labels, loss_weights) -> np.ndarray:
    """In training, the gradient of ``sum(block(x, labels) * loss_weights)`` for the output of G's
    block's conv1 (the input of its second batch norm), in the block's dtype: the block's sublayers
    composed in the official code's order (CBN -> ReLU -> up2 -> conv3x3 -> CBN -> ReLU -> conv3x3, plus
    up2 -> conv1x1), running state frozen."""
    from sagan_tf.layers.running_state import frozen_state
    from sagan_tf.ops.resample import upsample_nearest

    up = upsample_nearest if block.upsample else (lambda t: t)
    with frozen_state(), tf.GradientTape() as tape:
        h = block.bn1(x, labels, training=True, relu=True)
        conv1_out = block.conv1(up(h), training=True)
        h = block.bn2(conv1_out, labels, training=True, relu=True)
        output = block.conv2(h, training=True) + block.shortcut(up(tf.cast(x, h.dtype)), training=True)
        loss = tf.reduce_sum(tf.cast(output, tf.float32) * loss_weights)
    return as_float64(tape.gradient(loss, conv1_out))
