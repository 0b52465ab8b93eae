"""Both forms of every op of ``sagan_tf.ops`` on the same inputs: values and gradients.

``check_forms(case, dtype)`` runs the op's reference and fast form on one set of inputs in
``dtype`` (float32 or bfloat16; a kernel stays float32, as spectral norm hands it over), and the
reference form on the same inputs in float64, the exact value up to float64 rounding. It asserts,
for every output and for the gradient of ``sum(output * weights)`` with respect to every float
input, that each form is within ``tolerance`` of the float64 value (relative to the tensor's norm)
and that the fast form is within ``2 * tolerance`` of the reference form. A fast form that is
broken (a wrong tap, a missing factor, a gradient that leaves a term out) fails one of these.

Tolerances: float32 results are sums of at most a few hundred float32-rounded products computed in
another order by each form, so they agree to 1e-5 of the tensor's norm. A bfloat16 result (unit
roundoff u = 2^-8) is rounded once, after float32 accumulation; its inputs were rounded once
already, identically for both forms and for the float64 value. 4u in norm (1.6%) covers one rounding
of each element in each form and the float32 accumulation. Outputs that an op returns in float32
whatever its input dtype (batch norm's statistics) are held to the float32 tolerance.

Inputs avoid the points where an op is not differentiable: ``scale_shift_relu``'s pre-activations
are kept at least 0.1 away from 0, where a rounding could move an element to the other side of the
ReLU in one form only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from sagan_tf import ops

TOLERANCE = {"float32": 1e-5, "bfloat16": 4 * 2.0**-8}


@dataclass(frozen=True)
class Case:
    """One op: ``call(*inputs, impl=...)`` returns a tensor or a tuple; ``module.fast`` is the fast form."""

    name: str
    module: str  # sagan_tf.ops.<module>
    fast: str  # the fast form's function name in that module
    call: Callable
    make_inputs: Callable[[np.random.Generator], list[np.ndarray]]
    float32_inputs: tuple[int, ...] = ()  # inputs that stay float32 in every dtype (kernels)
    float32_outputs: tuple[int, ...] = ()  # outputs returned in float32 in every dtype
    input_names: tuple[str, ...] = field(default=())

    def fast_module(self):
        return importlib.import_module(f"sagan_tf.ops.{self.module}")


def _scale_shift_relu_inputs(rng):
    shape = (3, 4, 6, 5)
    gamma = 1.0 + 0.3 * rng.normal(size=(shape[0], shape[-1]))
    beta = 0.5 * rng.normal(size=(shape[0], shape[-1]))
    pre = rng.normal(size=shape)
    pre = np.where(np.abs(pre) < 0.1, np.sign(pre + 1e-12) * (0.1 + np.abs(pre)), pre)  # away from the kink
    x = (pre - beta[:, None, None, :]) / gamma[:, None, None, :]
    return [x, gamma, beta]


CASES = {
    "upsample_conv": Case(
        "upsample_conv", "upsample_conv", "fast_upsample_conv3x3",
        lambda x, k, impl: ops.upsample_conv3x3(x, k, impl=impl),
        lambda rng: [rng.normal(size=(2, 3, 5, 4)), 0.3 * rng.normal(size=(3, 3, 4, 6))],
        float32_inputs=(1,), input_names=("x", "kernel"),
    ),
    "conv_avgpool": Case(
        "conv_avgpool", "conv_avgpool", "fast_conv3x3_avgpool",
        lambda x, k, impl: ops.conv3x3_avgpool(x, k, impl=impl),
        lambda rng: [rng.normal(size=(2, 6, 10, 4)), 0.3 * rng.normal(size=(3, 3, 4, 6))],
        float32_inputs=(1,), input_names=("x", "kernel"),
    ),
    "batch_norm": Case(
        "batch_norm", "batch_norm", "fast_batch_norm",
        lambda x, impl: ops.batch_norm(x, 1e-5, impl=impl),
        lambda rng: [1.5 + 2.0 * rng.normal(size=(4, 6, 6, 5))],
        float32_outputs=(1, 2), input_names=("x",),
    ),
    "scale_shift_relu": Case(
        "scale_shift_relu", "scale_shift_relu", "fast_scale_shift_relu",
        lambda x, g, b, impl: ops.scale_shift_relu(x, g, b, impl=impl),
        _scale_shift_relu_inputs, input_names=("x", "gamma", "beta"),
    ),
    "add_upsampled": Case(
        "add_upsampled", "add_upsampled", "fast_add_upsampled",
        lambda h, s, impl: ops.add_upsampled(h, s, impl=impl),
        lambda rng: [rng.normal(size=(2, 8, 6, 5)), rng.normal(size=(2, 4, 3, 5))],
        input_names=("h", "s"),
    ),
    "bias_add": Case(
        "bias_add", "bias_add", "fast_bias_add",
        lambda x, b, impl: ops.bias_add(x, b, impl=impl),
        lambda rng: [rng.normal(size=(3, 5, 4, 6)), rng.normal(size=(6,))],
        input_names=("x", "bias"),
    ),
}


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def evaluate(case: Case, impl: str, inputs: list[np.ndarray], dtype: tf.DType, seed: int = 1):
    """``(outputs, gradients)`` of ``case`` in form ``impl`` on ``inputs`` cast to ``dtype`` (the
    ``float32_inputs`` to float32, or float64 when ``dtype`` is), as float64 arrays; the gradients
    are those of ``sum(first output * weights)`` for fixed random weights."""
    wide = tf.float64 if dtype == tf.float64 else tf.float32
    tensors = [tf.constant(v, wide if i in case.float32_inputs else dtype) for i, v in enumerate(inputs)]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        outputs = _as_tuple(case.call(*tensors, impl=impl))
        weights = np.random.default_rng(seed).normal(size=outputs[0].shape)
        loss = tf.reduce_sum(tf.cast(outputs[0], tf.float64) * weights)
    gradients = tape.gradient(loss, tensors)
    as64 = lambda t: np.asarray(tf.cast(t, tf.float64))  # noqa: E731
    return [as64(o) for o in outputs], [as64(g) for g in gradients]


def value_and_gradients(fn: Callable, inputs: list[np.ndarray], dy: np.ndarray, dtype: tf.DType) -> list[np.ndarray]:
    """``[fn(*inputs), d/d input for each input]`` with upstream gradient ``dy``, everything in
    ``dtype``, returned as float64 arrays."""
    tensors = [tf.constant(v, dtype) for v in inputs]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        y = fn(*tensors)
    grads = tape.gradient(y, tensors, output_gradients=tf.constant(dy, dtype))
    return [np.asarray(tf.cast(t, tf.float64)) for t in (y, *grads)]


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    scale = np.linalg.norm(want)
    return float(np.linalg.norm(got - want) / (scale if scale > 0 else 1.0))


def check_forms(case: Case, dtype: str, seed: int = 0) -> None:
    """Asserts that both forms of ``case`` agree with the float64 value and with each other (module docstring)."""
    inputs = make_inputs_representable(case, case.make_inputs(np.random.default_rng(seed)), dtype)
    exact = evaluate(case, "reference", inputs, tf.float64)
    forms = {impl: evaluate(case, impl, inputs, tf.as_dtype(dtype)) for impl in ("reference", "fast")}
    results = [(f"output {i}", 0, i, i in case.float32_outputs) for i in range(len(exact[0]))]
    results += [(f"gradient of {name}", 1, i, False) for i, name in enumerate(case.input_names)]
    for name, slot, index, float32_result in results:
        tol = TOLERANCE["float32" if float32_result else dtype]
        want = exact[slot][index]
        for impl, result in forms.items():
            error = relative_error(result[slot][index], want)
            assert error <= tol, f"{case.name} {dtype} {impl} {name}: relative error {error:.3g} > {tol:.3g}"
        between = relative_error(forms["fast"][slot][index], forms["reference"][slot][index])
        assert between <= 2 * tol, f"{case.name} {dtype} fast vs reference {name}: {between:.3g} > {2 * tol:.3g}"


def make_inputs_representable(case: Case, inputs: list[np.ndarray], dtype: str) -> list[np.ndarray]:
    """The inputs rounded to the dtype each is given in, so that the float64 value sees the same numbers."""
    out = []
    for i, v in enumerate(inputs):
        target = tf.float32 if i in case.float32_inputs or dtype == "float32" else tf.as_dtype(dtype)
        out.append(np.asarray(tf.cast(tf.cast(v, target), tf.float64)))
    return out
