"""Makes a 2015 GraphDef run in TensorFlow 2: its removed batch-norm op is rewritten into current ops.

The Inception graph of ``inception-2015-12-05.tgz`` normalizes with ``BatchNormWithGlobalNormalization``,
an op removed from GraphDef version 9 on. A graph of that age still runs in a TF1 session (the
session's graph takes the old producer version), but imported into a ``tf.function`` graph, which
has the current version, its kernel refuses to run ("not available in GraphDef version ...").

``rewrite_batch_norm`` replaces each such node ``t, m, v, beta, gamma -> y`` by the computation
of its kernel (``tensorflow/core/kernels/batch_norm_op.h``)::

    y = (t - m) * (rsqrt(v + variance_epsilon) * gamma) + beta      # scale_after_normalization
    y = (t - m) * rsqrt(v + variance_epsilon) + beta                # otherwise

as ``Sub``, ``AddV2``, ``Rsqrt``, ``Mul`` nodes under the old node's name, the last of which keeps
that name, so every consumer reads the same tensor. ``removed_ops`` lists any op the graph still
has that this TensorFlow no longer runs, so that such a graph fails with one clear line.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import op_def_registry

OLD_BATCH_NORM = "BatchNormWithGlobalNormalization"


def _node(name: str, op: str, inputs: list[str], dtype) -> tf.compat.v1.NodeDef:
    node = tf.compat.v1.NodeDef(name=name, op=op, input=inputs)
    node.attr["T"].type = dtype
    return node


def _const(name: str, value: float, dtype) -> tf.compat.v1.NodeDef:
    node = tf.compat.v1.NodeDef(name=name, op="Const")
    node.attr["dtype"].type = dtype
    numpy_dtype = tf.dtypes.as_dtype(dtype).as_numpy_dtype
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.asarray(value, numpy_dtype)))
    return node


def _batch_norm_nodes(old: tf.compat.v1.NodeDef) -> list[tf.compat.v1.NodeDef]:
    t, m, v, beta, gamma = old.input[:5]
    dtype = old.attr["T"].type
    name = old.name
    control = [i for i in old.input[5:] if i.startswith("^")]
    nodes = [
        _const(f"{name}/rewritten/epsilon", old.attr["variance_epsilon"].f, dtype),
        _node(f"{name}/rewritten/centered", "Sub", [t, m, *control], dtype),
        _node(f"{name}/rewritten/variance", "AddV2", [v, f"{name}/rewritten/epsilon"], dtype),
        _node(f"{name}/rewritten/rsqrt", "Rsqrt", [f"{name}/rewritten/variance"], dtype),
    ]
    scale = f"{name}/rewritten/rsqrt"
    if old.attr["scale_after_normalization"].b:
        nodes.append(_node(f"{name}/rewritten/scale", "Mul", [scale, gamma], dtype))
        scale = f"{name}/rewritten/scale"
    nodes.append(_node(f"{name}/rewritten/scaled", "Mul", [f"{name}/rewritten/centered", scale], dtype))
    nodes.append(_node(name, "AddV2", [f"{name}/rewritten/scaled", beta], dtype))
    for node in nodes:
        node.device = old.device
    return nodes


def rewrite_batch_norm(graph_def: tf.compat.v1.GraphDef) -> tuple[tf.compat.v1.GraphDef, int]:
    """(a copy of ``graph_def`` with every ``BatchNormWithGlobalNormalization`` node rewritten, the
    number rewritten); device placements are dropped (the graph runs where TF places it)."""
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    count = 0
    for node in graph_def.node:
        if node.op == OLD_BATCH_NORM:
            out.node.extend(_batch_norm_nodes(node))
            count += 1
        else:
            out.node.add().CopyFrom(node)
    for node in out.node:
        node.device = ""
    return out, count


def ancestors(graph_def: tf.compat.v1.GraphDef, outputs, stop=()) -> set[str]:
    """The names of the nodes that the tensors ``outputs`` ("name:0") are computed from, not going
    past the nodes of the tensors ``stop`` (which are fed)."""
    inputs = {node.name: node.input for node in graph_def.node}
    stopped = {name.split(":")[0] for name in stop}
    found, pending = set(), [name.split(":")[0] for name in outputs]
    while pending:
        name = pending.pop()
        if name in found or name not in inputs:
            continue
        found.add(name)
        if name not in stopped:
            pending.extend(i.lstrip("^").split(":")[0] for i in inputs[name])
    return found


def removed_ops(graph_def: tf.compat.v1.GraphDef, names=None) -> list[str]:
    """The ops of ``graph_def`` (of the nodes ``names`` only, when given) that this TensorFlow does
    not know, or no longer runs in a graph of the current GraphDef version."""
    current = tf.version.GRAPH_DEF_VERSION
    missing = set()
    for node in graph_def.node:
        if names is not None and node.name not in names:
            continue
        op_def = op_def_registry.get(node.op)
        if op_def is None or (op_def.HasField("deprecation") and op_def.deprecation.version <= current):
            missing.add(node.op)
    return sorted(missing)
