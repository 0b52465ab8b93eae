"""Model FLOPs counted on a traced TensorFlow graph (the training step as it really executes).

Counts 2 x the multiply-accumulates of every convolution and matrix product in the graph, forward
and backward, from the ops' static shapes:

    Conv2D                 2 * |output| * kh * kw * C_in
    Conv2DBackpropInput    2 * |dy| * kh * kw * C_in       (the transposed convolution)
    Conv2DBackpropFilter   2 * |dy| * kh * kw * C_in       (the filter-gradient correlation)
    MatMul / BatchMatMul   2 * M * N * K (times the batch)

Element-wise work (activations, batch norm, the optimizer) is not counted, as is usual for "model
FLOPs"; it is what the measured time pays for in addition. Because the count reads the graph of
``tf.function``, it follows exactly what TensorFlow differentiates: e.g. D's backward pass in the
generator update has input gradients only (no ``Conv2DBackpropFilter``), and each network's
spectral-norm power iteration appears as its small matrix-vector products.

TensorFlow's own profiler (``tf.compat.v1.profiler`` with ``float_operation``) counts forward
``Conv2D`` and ``MatMul`` the same way but not the backward convolutions; the tests check the two
counts agree on forward graphs and check the backward formulas against a hand count.
"""

from __future__ import annotations

import collections

import tensorflow as tf

COUNTED = (
    "Conv2D",
    "Conv2DBackpropInput",
    "Conv2DBackpropFilter",
    "MatMul",
    "BatchMatMul",
    "BatchMatMulV2",
    "BatchMatMulV3",
)
_CALLS = ("PartitionedCall", "StatefulPartitionedCall")
_BRANCHES = {"If": ("then_branch", "else_branch"), "StatelessIf": ("then_branch", "else_branch")}
_LOOPS = ("While", "StatelessWhile")


class UncountableGraph(ValueError):
    """The graph has a counted op with an unknown dimension, or control flow we cannot unroll."""


def _dims(shape: tf.TensorShape, what: str) -> list[int]:
    dims = shape.as_list() if shape.rank is not None else None
    if dims is None or any(d is None for d in dims):
        raise UncountableGraph(f"{what} has an unknown shape {shape}; trace with fully static shapes")
    return dims


def _prod(dims) -> int:
    out = 1
    for d in dims:
        out *= int(d)
    return out


def op_flops(op: tf.Operation) -> int:
    """FLOPs of one counted op (see the module docstring); 0 for any other op type."""
    t = op.type
    if t == "Conv2D":
        if op.get_attr("data_format") != b"NHWC":
            raise UncountableGraph(f"{op.name}: only NHWC convolutions are counted")
        kh, kw, cin, _ = _dims(op.inputs[1].shape, op.name)
        return 2 * _prod(_dims(op.outputs[0].shape, op.name)) * kh * kw * cin
    if t == "Conv2DBackpropInput":
        kh, kw, cin, _ = _dims(op.inputs[1].shape, op.name)
        return 2 * _prod(_dims(op.inputs[2].shape, op.name)) * kh * kw * cin
    if t == "Conv2DBackpropFilter":
        kh, kw, cin, _ = _dims(op.outputs[0].shape, op.name)
        return 2 * _prod(_dims(op.inputs[2].shape, op.name)) * kh * kw * cin
    if t == "MatMul":
        a = _dims(op.inputs[0].shape, op.name)
        k = a[0] if op.get_attr("transpose_a") else a[1]
        return 2 * _prod(_dims(op.outputs[0].shape, op.name)) * k
    if t.startswith("BatchMatMul"):
        x = _dims(op.inputs[0].shape, op.name)
        k = x[-2] if op.get_attr("adj_x") else x[-1]
        return 2 * _prod(_dims(op.outputs[0].shape, op.name)) * k
    return 0


def executed_ops(graph: tf.Graph) -> list[tf.Operation]:
    """The ops a call of the function really runs: ancestors of its outputs and of stateful ops.

    The gradient of ``Conv2D`` always creates both ``Conv2DBackpropInput`` and
    ``Conv2DBackpropFilter``; when only one is needed (D's filter gradient in the generator update)
    the other has no consumer and TensorFlow prunes it before running, so it must not be counted.
    """
    roots = [t.op for t in getattr(graph, "outputs", [])]
    roots += [op for op in graph.get_operations() if op.op_def is not None and op.op_def.is_stateful]
    seen, stack = set(), list(roots)
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return [op for op in graph.get_operations() if op.name in seen]


def graph_flops(graph: tf.Graph) -> dict[str, int]:
    """FLOPs per op type of the executed ops of ``graph`` and of the functions it calls."""
    totals: collections.Counter = collections.Counter()
    for op in executed_ops(graph):
        if op.type in COUNTED:
            totals[op.type] += op_flops(op)
        elif op.type in _CALLS:
            totals.update(graph_flops(_function_graph(graph, op.get_attr("f").name)))
        elif op.type in _BRANCHES or op.type in ("Case", "StatelessCase"):
            # A conditional runs one branch: count the most expensive one (an upper bound).
            names = [op.get_attr(a).name for a in _BRANCHES.get(op.type, ())]
            names += [f.name for f in op.get_attr("branches")] if "Case" in op.type else []
            branches = [graph_flops(_function_graph(graph, name)) for name in names]
            totals.update(max(branches, key=lambda b: sum(b.values())))
        elif op.type in _LOOPS:
            if graph_flops(_function_graph(graph, op.get_attr("body").name)):
                raise UncountableGraph(f"{op.name}: a loop with matrix products has no static trip count")
    return dict(totals)


def _function_graph(graph: tf.Graph, name: str) -> tf.Graph:
    fn = graph._get_function(name)  # noqa: SLF001 (no public accessor for a called function's graph)
    if fn is None or getattr(fn, "graph", None) is None:
        raise UncountableGraph(f"cannot read the graph of the called function {name}")
    return fn.graph


def function_flops(fn, *args, **kwargs) -> dict[str, int]:
    """Traces the ``tf.function`` ``fn`` for these arguments and counts its graph."""
    return graph_flops(fn.get_concrete_function(*args, **kwargs).graph)


def tf_profiler_flops(graph: tf.Graph, op_types=("Conv2D", "MatMul", "BatchMatMulV2")) -> int:
    """TensorFlow's own profiler count (``float_operation``) over the ops of ``op_types``."""
    wanted = {op.name for op in graph.get_operations() if op.type in op_types}
    opts = tf.compat.v1.profiler.ProfileOptionBuilder(tf.compat.v1.profiler.ProfileOptionBuilder.float_operation())
    opts = opts.with_empty_output().build()
    report = tf.compat.v1.profiler.profile(graph, options=opts)

    def walk(node) -> int:
        own = node.float_ops if node.name in wanted else 0
        return own + sum(walk(child) for child in node.children)

    return walk(report)
