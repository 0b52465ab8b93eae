"""Every fast form of ``sagan_tf.ops`` against its reference, forward and gradient, in float32 and
bfloat16 (``tests.helpers.op_forms``), and the same check failing on fast forms broken on purpose:
a perturbed output, a perturbed gradient of each input, and one realistic mistake per op."""

import pytest
import tensorflow as tf

from sagan_tf import ops_choice
from tests.helpers.op_forms import CASES, check_forms

DTYPES = ["float32", "bfloat16"]


def test_every_op_of_the_setting_has_a_case():
    assert sorted(CASES) == sorted(ops_choice.OPS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(CASES))
def test_fast_form_equals_reference(op, dtype):
    check_forms(CASES[op], dtype)


def _with_output_scaled(fast, factor=1.05):
    def broken(*args):
        out = fast(*args)
        if isinstance(out, tuple):
            return (out[0] * factor, *out[1:])
        return out * factor

    return broken


def _with_gradient_scaled(fast, index, factor=1.05):
    """``fast`` with the gradient of its input ``index`` scaled by ``factor``, its values unchanged."""

    def broken(*args):
        tensors, rest = [a for a in args if isinstance(a, tf.Tensor)], [a for a in args if not isinstance(a, tf.Tensor)]

        @tf.custom_gradient
        def wrapped(*tensors):
            with tf.GradientTape() as tape:
                tape.watch(tensors)
                out = fast(*tensors, *rest)
            first = out[0] if isinstance(out, tuple) else out

            def grad(*upstream):
                grads = tape.gradient(first, tensors, output_gradients=upstream[0])
                return [g * factor if i == index else g for i, g in enumerate(grads)]

            return out, grad

        return wrapped(*tensors)

    return broken


def _breakages():
    out = []
    for op, case in sorted(CASES.items()):
        out.append((op, "output"))
        out += [(op, f"gradient_{i}") for i in range(len(case.input_names))]
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op, breakage", _breakages())
def test_the_check_fails_on_a_fast_form_broken_by_five_percent(op, breakage, dtype, monkeypatch):
    case = CASES[op]
    module = case.fast_module()
    fast = getattr(module, case.fast)
    broken = _with_output_scaled(fast) if breakage == "output" else _with_gradient_scaled(fast, int(breakage[-1]))
    monkeypatch.setattr(module, case.fast, broken)
    with pytest.raises(AssertionError, match=f"{case.name} {dtype} fast"):
        check_forms(case, dtype)


def _realistic(op, module):
    """(attribute, replacement): a mistake one could make in each fast form."""
    if op == "upsample_conv":  # the transposed kernel's taps in the wrong order
        return "FOLD_UP", tuple(reversed(module.FOLD_UP))
    if op == "conv_avgpool":  # the pooling's 1/4 left out of the folded kernel
        return "FOLD_POOL", tuple(tuple(2 * v for v in row) for row in module.FOLD_POOL)
    if op == "batch_norm":  # the fused kernel's unbiased variance returned as the batch's
        def unbiased(x, epsilon):
            channels = int(x.shape[-1])
            return tf.compat.v1.nn.fused_batch_norm(x, tf.ones([channels]), tf.zeros([channels]), epsilon=epsilon,
                                                    is_training=True)
        return "fast_batch_norm", unbiased
    if op == "scale_shift_relu":  # the per-example sums over h, w taken over the batch instead
        def wrong_sums(t):
            return tf.broadcast_to(tf.reduce_sum(t, axis=[0, 1, 2])[None], [tf.shape(t)[0], t.shape[-1]])
        return "sum_per_example", wrong_sums
    if op == "add_upsampled":  # the shortcut's gradient averaged instead of summed over each 2x2 block
        return "sum_2x2_blocks", lambda dy: tf.nn.avg_pool2d(dy, 2, 2, "VALID")
    if op == "bias_add":  # the bias gradient of the first example only, the batch forgotten
        return "sum_per_channel", lambda dy: tf.reduce_sum(dy[0], axis=[0, 1])
    raise AssertionError(op)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(CASES))
def test_the_check_fails_on_a_realistic_mistake(op, dtype, monkeypatch):
    case = CASES[op]
    module = case.fast_module()
    attribute, replacement = _realistic(op, module)
    monkeypatch.setattr(module, attribute, replacement)
    with pytest.raises(AssertionError, match=f"{case.name} {dtype} fast"):
        check_forms(case, dtype)
