"""``model.arch: dcgan`` through the config, the unchanged GAN step, the CLIs and TFLite conversion."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.errors import ConfigError
from sagan_tf.models.dcgan import DCGANGenerator
from sagan_tf.training.builders import build_generator, build_sagan
from tests.helpers import REPO
from tests.helpers.cli import read_events, run_cli
from tests.helpers.training import model_and_reference_logits

CONFIG = REPO / "configs" / "dcgan_fashion_mnist32.yaml"
TINY = ["model.ch=4", "model.z_dim=16"]


def tiny(*overrides: str):
    return config_lib.load(CONFIG, TINY + list(overrides))


# ----------------------------------------------------------------------------- config


def test_config_builds_the_dcgan_family():
    cfg = config_lib.load(CONFIG)
    assert (cfg.model.arch, cfg.data.resolution, cfg.data.num_classes, cfg.data.label_key) == ("dcgan", 32, 0, None)
    g = build_generator(tiny())
    assert isinstance(g, DCGANGenerator) and [a.name for a in g.attention_layers] == ["attention_8", "attention_16"]
    assert all(block.bn.synchronized for block in g.blocks)  # model.sync_bn: true
    conditional = build_sagan(tiny("data.num_classes=10", "data.label_key=label"))
    assert conditional.generator.blocks[1].bn.gamma.embeddings.shape[0] == 10  # conditional BN
    assert conditional.discriminator.embedding.layer.embeddings.shape == (10, 4 * 4 * 16)  # projection
    native = tiny("data.resolution=28", "model.g_attention=[7,14]", "model.d_attention=[14,7]")
    assert native.data.resolution == 28
    assert "arch: dcgan" in (REPO / "configs" / "dcgan_fashion_mnist32.yaml").read_text()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.arch=resnet", "data.resolution=28", "model.g_attention=[16]", "model.d_attention=[16]"],
         "'data.resolution' must be one of [32, 64, 128] for model.arch resnet, got 28"),
        (["data.resolution=128"], "'data.resolution' must be one of [28, 32, 64] for model.arch dcgan, got 128"),
        (["data.resolution=28"], "'model.g_attention' at resolution 28: G attention at 8x8: no G block outputs that size"),
        (["data.resolution=28", "model.g_attention=[7,14]", "model.d_attention=[14,7]", "model.attention_variant=pooled"],
         "'model.g_attention' at resolution 28: G attention at 7x7: pooled attention max-pools 2x2 and needs an even size"),
        (["model.d_attention=[32]"], "'model.d_attention' at resolution 32: D attention at 32x32: no D block outputs that size"),
        (["model.arch=vgg"], "'model.arch' must be one of resnet, dcgan"),
    ],
)
def test_config_errors_name_the_key(overrides, message):
    with pytest.raises(ConfigError) as info:
        tiny(*overrides)
    assert message in str(info.value)


# ----------------------------------------------------------------------------- the GAN step


def test_train_step_logs_are_the_hinge_losses_and_steps_stay_finite():
    """The unconditional config (the conditional one runs in the two-replica test below)."""
    model, reference, images, labels, real_l, fake_l = model_and_reference_logits(tiny())

    step = tf.function(model.train_step)
    logs = step((images, labels))
    expected = np.maximum(0, 1 - real_l).mean() + np.maximum(0, 1 + fake_l).mean()
    np.testing.assert_allclose(float(logs["d_loss"]), expected, rtol=1e-5)
    np.testing.assert_allclose(float(logs["d_fake"]), fake_l.mean(), rtol=1e-5, atol=1e-6)
    gammas = {"gamma_g_attention_8", "gamma_g_attention_16", "gamma_d_attention_8", "gamma_d_attention_4"}
    assert gammas <= set(logs)
    for _ in range(3):
        logs = step((images, labels))
        assert all(np.isfinite(float(v)) for v in logs.values())
    assert int(model.step.numpy()) == 4
    assert all(abs(float(logs[k])) > 0 for k in gammas)  # attention is trained in G and D
    # Every weight was trained, except D's output bias: with every hinge term active (|D| < 1) its
    # gradient is -1 (real) + 1 (fake) = 0, exactly.
    still = [
        a.path
        for net, ref in ((model.generator, reference.generator), (model.discriminator, reference.discriminator))
        for a, b in zip(net.trainable_variables, ref.trainable_variables, strict=True)
        if np.allclose(a.numpy(), b.numpy())
    ]
    assert set(still) <= {"discriminator/sn_linear/linear/bias"}


# ----------------------------------------------------------------------------- command line


def test_train_and_sample_cli_with_the_dcgan_config(tmp_path, tfds_dir):
    """Training from the shipped config (tiny widths), TensorBoard scalars and grids, sampling."""
    logdir = tmp_path / "dcgan"
    sets = TINY + ["train.batch_size=8", "log.scalars_every=3", "log.samples_every=6", "log.samples_per_class=2",
                   "log.checkpoint_every=6", "data.shuffle_buffer=64"]
    result = run_cli(
        "sagan_tf.train", "--config", str(CONFIG), "--logdir", str(logdir), "--steps", "6",
        "--set", *sets, "--verbose", "0", tfds_dir=tfds_dir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scalars, images = read_events(logdir / "train")
    for tag in ("d_loss", "g_loss", "gamma_g_attention_8", "gamma_g_attention_16", "gamma_d_attention_8",
                "gamma_d_attention_4"):
        assert sorted(scalars[tag]) == [3, 6], tag
        assert all(np.isfinite(v) for v in scalars[tag].values())
    png = images["samples"][-1][1]  # unconditional: 8 rows of 2 samples of 32x32 with 2-pixel padding
    assert int(png[0]) == 2 * 34 + 2 and int(png[1]) == 8 * 34 + 2
    assert tf.train.latest_checkpoint(str(logdir / "checkpoints")).endswith("ckpt-6")

    from sagan_tf.images import make_grid
    from sagan_tf.serving.generators import load_generator

    generator = load_generator(logdir)  # unconditional: no labels; 8 rows of 3, as sagan-sample --n 3 draws
    assert make_grid(generator.generate(seeds=range(8 * 3)), 3).shape == (8 * 34 + 2, 3 * 34 + 2, 1)


# ----------------------------------------------------------------------------- TFLite


def _litert_run(interpreter, z, labels):
    inputs = {d["name"]: d for d in interpreter.get_input_details()}
    (z_in,) = [d for d in inputs.values() if "z" in d["name"]]
    (y_in,) = [d for d in inputs.values() if "labels" in d["name"]]
    interpreter.resize_tensor_input(z_in["index"], list(z.shape))
    interpreter.resize_tensor_input(y_in["index"], list(labels.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(z_in["index"], z)
    interpreter.set_tensor(y_in["index"], labels)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_tflite_conversion_to_builtins_with_a_dynamic_batch():
    """Transposed convolutions become TRANSPOSE_CONV with a dynamic batch; no Flex (select TF) ops.

    The converted model is compared with Keras at batch 1 and 5: float32 both sides, same
    operations in a different order, atol=1e-5 on images in [-1, 1].
    """
    from ai_edge_litert.interpreter import Interpreter

    keras.utils.set_random_seed(2)
    g = DCGANGenerator(resolution=28, ch=4, z_dim=16, num_classes=5, channels=1, attention=(7, 14))
    g.build()
    for att in g.attention_layers:
        att.gamma.assign(0.5)  # attention on the path
    spec = [tf.TensorSpec([None, 16], tf.float32, name="z"), tf.TensorSpec([None], tf.int32, name="labels")]
    fn = tf.function(lambda z, labels: g((z, labels), training=False), input_signature=spec)
    # Without trackable_obj the converter freezes the variables into constants first; with it, TF 2.21
    # keeps Keras 3 variables as READ_VARIABLE ops that the interpreter cannot initialise.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # fails if anything needs Flex
    interpreter = Interpreter(model_content=converter.convert())
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "TRANSPOSE_CONV" in ops and "SOFTMAX" in ops
    assert not [op for op in ops if op.startswith("Flex") or op in ("CUSTOM", "DELEGATE", "READ_VARIABLE")], ops
    assert all(d["shape_signature"][0] == -1 for d in interpreter.get_input_details())
    rng = np.random.default_rng(2)
    for batch in (1, 5):
        z = rng.normal(size=(batch, 16)).astype(np.float32)
        labels = (np.arange(batch) % 5).astype(np.int32)
        out = _litert_run(interpreter, z, labels)
        expected = g((z, labels), training=False).numpy()
        assert out.shape == (batch, 28, 28, 1)
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)
