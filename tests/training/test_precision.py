"""Mixed precision: dtypes where they matter, float32 islands, loss scaling, training in each mode."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.runs import checkpointing
from sagan_tf.training.builders import build_sagan
from sagan_tf.training.loop import make_step_function
from sagan_tf.training.precision import PRECISIONS, policy_scope, wrap_optimizer
from tests.helpers.training import batches, copy_networks, precision_config

STEPS = 8
COMPUTE = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def test_policy_scope_is_local_and_checked():
    before = keras.config.dtype_policy().name
    with policy_scope("mixed_bfloat16"):
        assert keras.layers.Dense(2).compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == before
    assert keras.layers.Dense(2).compute_dtype == "float32"
    with pytest.raises(ValueError, match="precision"):
        with policy_scope("float64"):
            pass


@pytest.mark.parametrize("precision", PRECISIONS)
def test_a_few_training_steps_in_each_mode(precision):
    """Layers compute in the policy's dtype with float32 variables; softmax, images, logits and losses
    are float32; float16 (only) wraps both optimizers in loss scaling; losses stay finite."""
    keras.utils.set_random_seed(0)
    model = build_sagan(precision_config(precision))
    g, d = model.generator, model.discriminator
    conv = g.blocks[0].conv1.layer
    assert conv.compute_dtype == COMPUTE[precision]
    assert {v.dtype for v in g.variables + d.variables} == {"float32"}
    assert model.ema.generator.blocks[0].conv1.layer.compute_dtype == COMPUTE[precision]  # samples like G
    scaled = precision == "mixed_float16"
    for opt in (model.g_optimizer, model.d_optimizer):
        assert isinstance(opt, keras.optimizers.LossScaleOptimizer) == scaled

    z, labels = tf.random.normal([8, 16]), tf.constant([0, 1, 2, 3] * 2)
    images, g_maps = g((z, labels), training=False, return_attention=True)
    logits, d_maps = d((images, labels), training=False, return_attention=True)
    assert images.dtype == tf.float32 and logits.dtype == tf.float32
    assert all(m.dtype == tf.float32 for m in list(g_maps.values()) + list(d_maps.values()))
    assert np.allclose(tf.reduce_sum(next(iter(g_maps.values())), -1).numpy(), 1.0, atol=1e-5)

    step = make_step_function(model, tf.distribute.get_strategy())
    iterator = iter(batches())
    losses = [{k: float(v) for k, v in step(iterator).items()} for _ in range(STEPS)]
    assert all(np.isfinite([s["d_loss"], s["g_loss"]]).all() for s in losses)
    for opt in (model.g_optimizer, model.d_optimizer):
        if scaled:  # updates whose float16 gradients overflow are skipped until the scale settles
            assert 1 <= int(opt.iterations.numpy()) < STEPS and float(opt.dynamic_scale.numpy()) < 2.0**15
        else:
            assert int(opt.iterations.numpy()) == STEPS
    assert int(model.step.numpy()) == STEPS  # the run's step counts every step, skipped updates included
    assert ("g_skipped" in losses[0]) == scaled and ("loss_scale_d" in losses[0]) == scaled
    if scaled:
        assert sum(s["g_skipped"] + s["d_skipped"] for s in losses) >= 1


@pytest.mark.parametrize("precision, atol", [("mixed_bfloat16", 0.08), ("mixed_float16", 0.01)])
def test_mixed_forward_agrees_with_float32(precision, atol):
    """Same weights: images and logits of the mixed networks are the float32 ones up to rounding."""
    keras.utils.set_random_seed(1)
    reference = build_sagan(precision_config("float32"))
    mixed = build_sagan(precision_config(precision))
    copy_networks(reference, mixed)
    z, labels = tf.random.normal([8, 16]), tf.constant([0, 1, 2, 3] * 2)
    for net in ("generator", "discriminator"):
        for layer in getattr(mixed, net).attention_layers + getattr(reference, net).attention_layers:
            layer.gamma.assign(0.5)  # attention on (gamma starts at 0)
    images = reference.generator((z, labels), training=False)
    images_mixed = mixed.generator((z, labels), training=False)
    np.testing.assert_allclose(images_mixed.numpy(), images.numpy(), atol=atol)
    logits = reference.discriminator((images, labels), training=False).numpy()
    logits_mixed = mixed.discriminator((images, labels), training=False).numpy()
    np.testing.assert_allclose(logits_mixed, logits, atol=atol * max(1.0, np.abs(logits).max()))


def _one_step_deltas(model, data):
    before = [v.numpy() for v in model.generator.trainable_variables + model.discriminator.trainable_variables]
    model.train_step(data)
    after = [v.numpy() for v in model.generator.trainable_variables + model.discriminator.trainable_variables]
    return np.concatenate([(a - b).ravel() for a, b in zip(after, before, strict=True)])


def _sgd_model(precision):
    model = build_sagan(precision_config(precision))
    model.compile(
        g_optimizer=wrap_optimizer(keras.optimizers.SGD(0.1), precision),
        d_optimizer=wrap_optimizer(keras.optimizers.SGD(0.1), precision),
    )
    return model


def test_loss_scaling_updates_like_float32():
    """With SGD (update proportional to the gradient) the float16 step, scaled by 2^8 and unscaled by
    the optimizer, moves the weights like the float32 step; a missing unscale would be 256x off."""
    keras.utils.set_random_seed(2)
    reference, mixed = _sgd_model("float32"), _sgd_model("mixed_float16")
    copy_networks(reference, mixed)
    data = next(iter(batches()))
    for opt in (mixed.g_optimizer, mixed.d_optimizer):
        opt.dynamic_scale.assign(2.0**8)  # small enough that this model's float16 gradients stay finite
    expected = _one_step_deltas(reference, data)
    got = _one_step_deltas(mixed, data)
    assert np.linalg.norm(expected) > 0
    cosine = got @ expected / (np.linalg.norm(got) * np.linalg.norm(expected))
    assert cosine > 0.99
    assert np.linalg.norm(got) / np.linalg.norm(expected) == pytest.approx(1.0, abs=0.05)
    assert int(mixed.g_optimizer.iterations.numpy()) == 1 and int(mixed.d_optimizer.iterations.numpy()) == 1


def test_overflowing_step_is_skipped_and_scale_halved():
    keras.utils.set_random_seed(3)
    model = _sgd_model("mixed_float16")
    model.d_optimizer.dynamic_scale.assign(2.0**120)  # float16 gradients overflow to inf
    d_before = [v.numpy() for v in model.discriminator.trainable_variables]
    model.train_step(next(iter(batches())))
    assert float(model.d_optimizer.dynamic_scale.numpy()) == 2.0**119
    for v, b in zip(model.discriminator.trainable_variables, d_before, strict=True):
        np.testing.assert_array_equal(v.numpy(), b)
    assert int(model.d_optimizer.iterations.numpy()) == 0


def test_loss_scale_state_is_checkpointed(tmp_path):
    keras.utils.set_random_seed(4)
    model = build_sagan(precision_config("mixed_float16"))
    step = make_step_function(model, tf.distribute.get_strategy())
    iterator = iter(batches())
    step(iterator)
    model.g_optimizer.dynamic_scale.assign(1024.0)
    path = checkpointing.training_checkpoint(model).save(str(tmp_path / "ckpt"))
    restored = build_sagan(precision_config("mixed_float16"))
    checkpointing.restore(checkpointing.training_checkpoint(restored), path)
    assert float(restored.g_optimizer.dynamic_scale.numpy()) == 1024.0
    assert int(restored.step.numpy()) == int(model.step.numpy())


@pytest.mark.parametrize(
    "flags, gpus, tpu, expected, reason",
    [
        ({"avx2", "avx512f", "amx_bf16", "amx_tile"}, [], False, "mixed_bfloat16", "CPU with AMX-BF16"),
        ({"avx512f", "avx512_bf16"}, [], False, "mixed_bfloat16", "CPU with AVX512-BF16"),
        ({"avx512_bf16", "amx_bf16"}, [], False, "mixed_bfloat16", "AMX-BF16 and AVX512-BF16"),
        ({"avx2", "avx512f", "avx512_fp16"}, [], False, "float32", "CPU without"),
        (set(), [], False, "float32", "CPU without"),
        ({"avx2"}, [(8, 0), (9, 0)], False, "mixed_bfloat16", "lowest 8.0"),
        ({"amx_bf16"}, [(8, 6), (7, 0)], False, "float32", "capability 7.0"),  # the GPUs compute, not the CPU
        (set(), [], True, "mixed_bfloat16", "TPU"),
    ],
)
def test_auto_precision_picks_bfloat16_only_where_it_is_fast(flags, gpus, tpu, expected, reason):
    from sagan_tf.training.precision import choose_precision

    precision, why = choose_precision(flags, gpus, tpu)
    assert precision == expected and reason in why


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    from sagan_tf.training.precision import cpu_flags

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16\n\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx512f", "avx512_bf16", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()


def test_auto_looks_at_the_gpus_the_strategy_computes_on(monkeypatch, mirrored):
    from sagan_tf.training import precision

    monkeypatch.setattr(precision, "gpu_capabilities", lambda: [(8, 6), (7, 0)])  # an A10 and a V100
    monkeypatch.setattr(precision, "cpu_flags", lambda: set())
    assert precision.resolve("auto", gpus=[0]) == ("mixed_bfloat16", "GPUs of compute capability >= 8.0 (lowest 8.6)")
    assert precision.resolve("auto", gpus=[1])[0] == "float32"
    assert precision.resolve("auto", gpus=[0, 1])[0] == precision.resolve("auto")[0] == "float32"
    assert precision.resolve("float32", gpus=[0]) == ("float32", None)  # explicit: kept
    assert precision.gpu_indices(["/job:worker/replica:0/task:1/device:GPU:1", "/device:CPU:0",
                                  "/job:localhost/replica:0/task:0/device:GPU:0"]) == [0, 1]
    assert precision.strategy_gpus(tf.distribute.get_strategy()) == [0]  # the default strategy: the first GPU
    assert precision.strategy_gpus(mirrored) is None  # a mirrored strategy over CPUs names no GPU


def test_auto_is_decided_again_on_resume_and_a_changed_choice_is_said(tmp_path, tfds_dir, capfd):
    """Two sessions of a ``Trainer`` in this process, as a user runs ``sagan-train`` twice."""
    import json

    from sagan_tf.trainer import Trainer
    from sagan_tf.training.precision import resolve
    from tests.helpers.cli import TINY

    expected, reason = resolve("auto")
    model = build_sagan(precision_config("auto"))
    assert model.generator.blocks[0].conv1.layer.compute_dtype == COMPUTE[expected]
    logdir = tmp_path / "run"
    capfd.readouterr()
    Trainer("fashion_mnist32", logdir, overrides=[*TINY, "train.precision=auto"], data_dir=tfds_dir, verbose=0).train(1)
    assert f"precision auto: {expected} ({reason})" in capfd.readouterr().err
    assert "precision: auto" in (logdir / "config.yaml").read_text()  # not pinned to the first host's choice
    record = json.loads((logdir / "training.json").read_text())
    assert [s["precision"] for s in record["sessions"]] == [expected]

    # As if the first session had run on other hardware: the host decides again, and says so.
    other = "float32" if expected == "mixed_bfloat16" else "mixed_bfloat16"
    record["sessions"][0]["precision"] = other
    (logdir / "training.json").write_text(json.dumps(record))
    Trainer(None, logdir, data_dir=tfds_dir, verbose=0).train(steps=2)
    assert (f"precision auto: this session trains in {expected}, the run's last one trained in {other} "
            f"(--precision {other} keeps it)") in capfd.readouterr().err
    sessions = json.loads((logdir / "training.json").read_text())["sessions"]
    assert [s["precision"] for s in sessions] == [other, expected]
    assert "precision: auto" in (logdir / "config.yaml").read_text()


@pytest.mark.parametrize("explicit", ["float32", "mixed_bfloat16"])
def test_an_explicit_precision_is_kept_on_resume_without_a_line(tmp_path, capsys, explicit):
    """Whatever the run's last session trained in and whatever the hardware would pick."""
    import json

    from sagan_tf.runs import record
    from sagan_tf.trainer.precision import resolve_precision

    other = "float32" if explicit == "mixed_bfloat16" else "mixed_bfloat16"
    (tmp_path / record.RECORD_FILE).write_text(json.dumps({"sessions": [{"precision": other}]}))
    cfg = precision_config(explicit)
    for flags in (set(), {"avx512_bf16", "amx_bf16"}):  # a CPU without and one with fast bfloat16
        assert resolve_precision(cfg, tf.distribute.get_strategy(), tmp_path, cpu_flags=flags) == explicit
        assert cfg.train.precision == explicit
    assert capsys.readouterr().err == ""
