"""The equal-parameter residual block of the Table 1 ablation: parameter counts, forward pass, configs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.layers import SelfAttention
from sagan_tf.layers.residual_substitute import ResidualSubstitute, substitute_shape
from sagan_tf.layers.running_state import frozen_state
from sagan_tf.training.builders import build_discriminator, build_generator
from sagan_tf.training.precision import policy_scope
from tests.helpers import REPO
from tests.helpers.traced import compute_dtypes


def trainable_count(layer) -> int:
    return int(sum(np.prod(v.shape) for v in layer.trainable_weights))


@pytest.mark.parametrize("variant", ["pooled", "paper"])
@pytest.mark.parametrize("channels", [16, 32, 64, 256])
def test_parameter_count_equals_self_attention(variant, channels):
    shape = (2, 8, 8, channels)
    attention, residual = SelfAttention(variant), ResidualSubstitute(variant)
    attention.build(shape)
    residual.build(shape)
    assert trainable_count(residual) == trainable_count(attention)
    assert substitute_shape(channels, variant) == ((3, channels // 8) if variant == "pooled" else (1, channels // 4))


def numpy_conv_same(x, w):
    """'same' convolution of (B, H, W, Cin) with (k, k, Cin, Cout), stride 1, odd k."""
    k = w.shape[0]
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    out = np.zeros(x.shape[:3] + (w.shape[-1],))
    for i in range(k):
        for j in range(k):
            out += np.einsum("bhwc,cd->bhwd", xp[:, i : i + x.shape[1], j : j + x.shape[2]], w[i, j])
    return out


def test_forward_is_gated_residual_of_two_sn_convolutions():
    keras.utils.set_random_seed(0)
    layer = ResidualSubstitute("pooled")
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 16)).astype(np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), x)  # gamma starts at 0: the identity
    layer.gamma.assign(0.7)
    wa = layer.conv_a.normalized_weight().numpy()
    wb = layer.conv_b.normalized_weight().numpy()
    assert wa.shape == (3, 3, 16, 2) and wb.shape == (1, 1, 2, 16)
    expected = x + 0.7 * numpy_conv_same(np.maximum(numpy_conv_same(np.maximum(x, 0), wa), 0), wb)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-4, atol=1e-5)
    clone = ResidualSubstitute.from_config(layer.get_config())
    assert clone.variant == "pooled"


def test_training_under_mixed_bfloat16_computes_in_bfloat16_within_its_rounding():
    """Built under the mixed_bfloat16 policy (as the networks are), the block's convolutions
    compute in bfloat16, and a training call (running state frozen: the kernels of the stored u)
    gives the float64 composition of its kernels within a bound on bfloat16's rounding.

    The bound follows each operation (unit roundoff u = 2^-8; convolutions accumulate in float32,
    whose error is covered by the factor 2.1 instead of 2): a convolution of an input known to
    within e, with its kernel W and its result rounded to bfloat16, is known to within
    |W| * e + 2.1 u |W| * |input| (``*``: the same convolution of magnitudes); ReLU does not
    increase an error; gamma h and x + gamma h add one rounding each (u of their magnitudes, gamma
    rounded too).
    """
    keras.utils.set_random_seed(1)
    with policy_scope("mixed_bfloat16"):
        layer = ResidualSubstitute("pooled")
        layer.build((2, 6, 6, 16))
    assert set(compute_dtypes(layer).values()) == {"bfloat16"}
    layer.gamma.assign(0.7)
    x = tf.cast(tf.constant(np.random.default_rng(1).normal(size=(2, 6, 6, 16))), tf.bfloat16)
    with frozen_state():
        y = layer(tf.cast(x, tf.float32), training=True)
    assert y.dtype == tf.bfloat16

    u = 2.0**-8
    x = np.asarray(tf.cast(x, tf.float64))
    wa = layer.conv_a.normalized_weight().numpy().astype(np.float64)
    wb = layer.conv_b.normalized_weight().numpy().astype(np.float64)
    a = np.maximum(x, 0)
    c = numpy_conv_same(a, wa)
    error_c = 2.1 * u * numpy_conv_same(np.abs(a), np.abs(wa))
    r = np.maximum(c, 0)
    h = numpy_conv_same(r, wb)
    error_h = numpy_conv_same(error_c, np.abs(wb)) + 2.1 * u * numpy_conv_same(np.abs(r), np.abs(wb))
    expected = x + 0.7 * h
    bound = 0.7 * error_h + 2.1 * u * 0.7 * np.abs(h) + u * (np.abs(x) + 0.7 * np.abs(h))
    error = np.abs(np.asarray(tf.cast(y, tf.float64)) - expected)
    assert np.all(error <= bound), (error - bound).max()
    assert error.max() > 0  # it did round


def test_ablation_configs_differ_from_the_recipe_only_in_the_attention_block():
    recipe = config_lib.load(REPO / "configs/fashion_mnist32.yaml")
    residual = config_lib.load(REPO / "configs/ablation/fashion_mnist32_residual.yaml")
    none = config_lib.load(REPO / "configs/ablation/fashion_mnist32_no_attention.yaml")
    assert residual.model.attention_block == "residual" and recipe.model.attention_block == "attention"
    assert none.model.g_attention == none.model.d_attention == [] and recipe.model.g_attention == [16]

    def without(cfg, *keys):
        d = cfg.to_dict()
        for key in keys:
            d["model"].pop(key)
        return d

    assert without(residual, "attention_block") == without(recipe, "attention_block")
    assert without(none, "g_attention", "d_attention") == without(recipe, "g_attention", "d_attention")

    counts = {}
    for name, cfg in (("recipe", recipe), ("residual", residual), ("none", none)):
        g, d = build_generator(cfg), build_discriminator(cfg)
        counts[name] = (trainable_count(g), trainable_count(d))
        if name == "residual":
            assert [type(layer).__name__ for layer in g.attention_layers + d.attention_layers] == ["ResidualSubstitute"] * 2
            images, maps = g((tf.zeros([1, cfg.model.z_dim]), tf.zeros([1], tf.int32)), return_attention=True)
            assert maps == {} and images.shape == (1, 32, 32, 1)
    assert counts["residual"] == counts["recipe"]  # Table 1: same number of parameters
    g_att, d_att = 64 * 64 * 5 // 4 + 1, 32 * 32 * 5 // 4 + 1  # pooled attention on 4*ch and 2*ch channels
    assert counts["recipe"] == (counts["none"][0] + g_att, counts["none"][1] + d_att)


def test_attention_pictures_only_for_real_attention_layers(tmp_path):
    from sagan_tf.evaluation.callbacks import AttentionImages, evaluation_callbacks
    from sagan_tf.training.builders import build_sagan

    found = {}
    for name in ("fashion_mnist32.yaml", "ablation/fashion_mnist32_residual.yaml"):
        cfg = config_lib.load(REPO / "configs" / name, ["model.ch=8", "model.z_dim=8", "train.ema_decay=0"])
        callbacks = evaluation_callbacks(cfg, build_sagan(cfg), writer=None, logdir=tmp_path)
        found[name] = [type(c) for c in callbacks]
    assert found == {"fashion_mnist32.yaml": [AttentionImages], "ablation/fashion_mnist32_residual.yaml": []}
