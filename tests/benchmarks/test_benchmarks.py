"""The benchmark harnesses: FLOP counts against hand counts and TensorFlow's profiler, the JSON of
the train-step benchmark on a tiny config, the XLA fallback, the memory and learning-run helpers."""

import collections
import glob
import json
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks import attention_memory, learning_run, profile_step
from benchmarks.flops import function_flops, graph_flops, tf_profiler_flops
from sagan_tf.layers import GeneratorBlock
from sagan_tf.models import Discriminator, Generator
from sagan_tf.training.xla import maybe_jit
from tests.helpers import REPO


def test_train_step_benchmark_prints_consistent_json(tfds_dir):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.train_step", "--config", "configs/fashion_mnist32.yaml",
         "--batch-size", "8", "--steps", "3", "--warmup", "1", "--data", "tfds", "--data-dir", tfds_dir,
         "--precision", "mixed_bfloat16", "--set", "model.ch=4", "model.z_dim=16", "data.shuffle_buffer=64"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    r = json.loads(result.stdout)
    assert r["batch_size"] == 8 and r["d_steps"] == 2 and r["steps_timed"] == 3 and len(r["step_times_s"]) == 3
    assert r["median_s_per_step"] == pytest.approx(sorted(r["step_times_s"])[1], abs=1e-5)
    assert r["images_per_s"] == pytest.approx(8 / r["median_s_per_step"], rel=1e-3)
    assert r["executed_flops_per_step"] == sum(r["executed_flops_by_op"].values())
    assert 0 < r["executed_flops_per_step"] < r["model_flops_per_step"]  # resampling folded into convolutions
    assert r["achieved_gflop_per_s"] == pytest.approx(r["model_flops_per_step"] / r["median_s_per_step"] / 1e9, rel=0.01)
    assert r["efficiency"] == pytest.approx(r["achieved_gflop_per_s"] / r["matmul_peak_gflop_per_s"], abs=2e-3)
    assert r["matmul_peak_gflop_per_s"] == max(r["matmul_peak_before_after"]) > 0
    assert r["precision"] == "mixed_bfloat16" and r["matmul_peak_dtype"] == "bfloat16"  # the peak of its own dtype
    assert r["losses_finite"] and r["jit_compile"] == {"requested": False, "used": False, "fallback": None}
    assert 0.0 <= r["data_wait_fraction"] < 1.0 and r["pipeline_images_per_s"] > 0
    assert r["environment"]["tensorflow"].startswith("2.")


def _grads_fn(layer, wrt_kernel=True):
    @tf.function
    def fn(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.square(y))  # the gradient needs y: the forward op runs
        return tape.gradient(loss, [x, layer.kernel] if wrt_kernel else [x])

    return fn


def test_flops_of_one_conv_layer_match_a_hand_count():
    """3x3 conv, 3 -> 4 channels on (2, 8, 8, 3): 2 * (2*8*8*4 outputs) * (3*3*3 taps) per pass."""
    conv = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)
    x = tf.zeros([2, 8, 8, 3])
    conv(x)
    hand = 2 * (2 * 8 * 8 * 4) * (3 * 3 * 3)
    assert hand == 27648
    assert function_flops(tf.function(conv), x) == {"Conv2D": hand}
    assert function_flops(_grads_fn(conv), x) == {
        "Conv2D": hand, "Conv2DBackpropInput": hand, "Conv2DBackpropFilter": hand
    }
    # Only the input gradient asked for: TensorFlow never runs the filter gradient, it is not counted.
    assert function_flops(_grads_fn(conv, wrt_kernel=False), x) == {"Conv2D": hand, "Conv2DBackpropInput": hand}


def test_flops_of_dense_and_batch_matmul_match_a_hand_count():
    dense = keras.layers.Dense(7, use_bias=False)
    x = tf.zeros([3, 5])
    dense(x)
    assert function_flops(_grads_fn(dense), x) == {"MatMul": 3 * (2 * 3 * 5 * 7)}  # y, dx, dW
    a, b = tf.zeros([4, 6, 5]), tf.zeros([4, 6, 9])
    assert function_flops(tf.function(lambda a, b: tf.matmul(a, b, transpose_a=True)), a, b) == {
        "BatchMatMulV2": 2 * 4 * 5 * 9 * 6
    }


def test_folded_upsampling_saves_the_hand_counted_flops():
    """G block on (B, H, W, C) -> 2H x 2W: conv1 costs 2*B*4HW*9*C*F upsampled first (reference),
    2*B*HW*16*C*F as a transposed convolution (fast); the 1x1 shortcut 2*B*HW*C*F in both."""
    b, h, w, c, f = 2, 4, 4, 6, 8
    x, y = tf.zeros([b, h, w, c]), tf.zeros([b], tf.int32)

    def conv_flops(ops):  # without the spectral norms' matrix-vector products
        block = GeneratorBlock(f, num_classes=3, ops=ops)
        block.build((b, h, w, c))
        counts = function_flops(tf.function(lambda x, y: block(x, y, training=False)), x, y)
        return sum(v for k, v in counts.items() if k.startswith("Conv2D"))

    conv2 = 2 * b * 4 * h * w * 9 * f * f
    assert conv_flops("reference") - conv2 == 2 * b * 4 * h * w * 9 * c * f + 2 * b * h * w * c * f
    assert conv_flops("fast") - conv2 == 2 * b * h * w * 16 * c * f + 2 * b * h * w * c * f


def test_flops_agree_with_tensorflow_profiler_on_forward_networks():
    # The reference forms: TF's profiler has no statistics for transposed convolutions.
    g = Generator(resolution=32, ch=4, z_dim=8, num_classes=3, channels=1, attention=[16], ops="reference")
    d = Discriminator(resolution=32, ch=4, num_classes=3, channels=1, attention=[16], ops="reference")
    for net, args in ((g, (tf.zeros([2, 8]), tf.zeros([2], tf.int32))), (d, (tf.zeros([2, 32, 32, 1]), tf.zeros([2], tf.int32)))):
        net.build()
        graph = tf.function(lambda a, b, net=net: net((a, b), training=True)).get_concrete_function(*args).graph
        ours = graph_flops(graph)
        assert set(ours) == {"Conv2D", "MatMul", "BatchMatMulV2"}
        assert sum(ours.values()) == tf_profiler_flops(graph) > 0


def test_jit_falls_back_under_two_replicas_and_compiles_on_one(mirrored):
    step = lambda data: data  # noqa: E731
    with pytest.warns(RuntimeWarning, match="MirroredStrategy"):
        fn, reason = maybe_jit(step, mirrored, True)
    assert fn is step and "resource located on another device" in reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn, reason = maybe_jit(step, tf.distribute.get_strategy(), True)
        assert reason is None and fn is not step
    assert maybe_jit(step, tf.distribute.get_strategy(), False) == (step, None)


@pytest.mark.slow
def test_xla_compiled_step_equals_the_graph_step():
    from sagan_tf.training.builders import build_sagan
    from sagan_tf.training.loop import make_step_function
    from tests.helpers.training import batches, copy_networks, precision_config

    keras.utils.set_random_seed(0)
    plain, compiled = build_sagan(precision_config("float32")), build_sagan(precision_config("float32"))
    copy_networks(plain, compiled)
    logs = []
    for model, jit in ((plain, False), (compiled, True)):
        step = make_step_function(model, tf.distribute.get_strategy(), jit_compile=jit)
        iterator = iter(batches())
        logs.append([{k: float(v) for k, v in step(iterator).items()} for _ in range(2)])
    (first, second), (first_xla, second_xla) = logs
    # D's loss of the first step comes from identical weights: equal up to float32 rounding in
    # another order (XLA fuses and reorders; this tiny model's logits are ~300).
    assert first_xla["d_loss"] == pytest.approx(first["d_loss"], rel=1e-3)
    # Later values follow Adam's first update (~lr * sign(gradient)), which amplifies rounding
    # differences of near-zero gradient entries.
    for key in ("g_loss", "d_loss"):
        assert second_xla[key] == pytest.approx(second[key], rel=0.05, abs=0.05)
    assert first_xla["g_loss"] == pytest.approx(first["g_loss"], rel=0.02)


def test_attention_memory_chunked_stays_below_one_whole_map():
    """32x32 (N = 1024), 64 channels, batch 4: one float32 map is 16 MiB. Chunked, the blocks run one
    after another (without the ordering, all 16 blocks' maps are alive at once: > 20 MiB)."""
    whole = attention_memory.measure_case(32, 64, batch=4, variant="paper", chunk=0)
    chunked = attention_memory.measure_case(32, 64, batch=4, variant="paper", chunk=64)
    assert whole["map_mib"] == chunked["map_mib"] == 16.0
    assert whole["peak_tf_mib"] >= 2 * whole["map_mib"]  # the map and its gradient
    assert chunked["peak_tf_mib"] < 0.75 * whole["map_mib"]


@pytest.mark.slow  # chunked attention equals whole attention: tests/layers/
def test_model_memory_runs_both_modes_with_the_same_losses():
    """A whole training step per mode in its own process; chunking (4 blocks of 64 of the 256 queries
    at 16x16) changes the memory, not the function; the whole-map size is the hand count."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.model_memory", "--config", "configs/fashion_mnist32.yaml",
         "--batch-size", "4", "--chunk", "64", "--steps", "1",
         "--set", "model.ch=4", "model.z_dim=16", "model.g_attention=[16]", "model.d_attention=[16]",
         "train.precision=float32"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    r = json.loads(result.stdout)
    # pooled keys: N = 256 queries x 64 keys x 4 bytes, G on 4 images and D on 4 real + 4 fake
    assert r["attention_maps_mib"] == pytest.approx((4 + 8) * 256 * 64 * 4 / 2**20, abs=0.005)
    whole, chunked = r["modes"]
    assert (whole["mode"], whole["query_chunk"], chunked["mode"], chunked["query_chunk"]) == ("whole", 0, "chunked", 64)
    for key in ("d_loss", "g_loss"):
        assert chunked["losses"][key] == pytest.approx(whole["losses"][key], rel=1e-4, abs=1e-5)
    assert all(m["peak_rss_mib"] > 0 and m["s_per_step"] > 0 for m in (whole, chunked))


def test_config_memory_state_is_the_hand_count_and_extends_the_measured_line():
    from benchmarks import config_memory

    tiny = ["model.ch=4", "model.z_dim=16", "model.g_attention=[16]", "model.d_attention=[16]"]
    small, large = (config_memory.measure("fashion_mnist32", b, tiny) for b in (2, 4))
    assert 0 < small["transient_mib"] < large["transient_mib"]
    # G + EMA + D, every variable; Adam's m and v of every trainable one; 4 bytes each
    from sagan_tf import config as config_lib
    from sagan_tf.training.builders import build_sagan

    model = build_sagan(config_lib.load("fashion_mnist32", tiny))
    every = lambda net: sum(int(np.prod(v.shape)) for v in net.variables)  # noqa: E731
    trainable = sum(int(np.prod(v.shape)) for v in model.generator.trainable_variables + model.discriminator.trainable_variables)
    expected = 4 * (2 * every(model.generator) + every(model.discriminator) + 2 * trainable) / 2**20
    assert small["state_mib"] == large["state_mib"] == pytest.approx(expected, abs=0.05)
    line = config_memory.per_replica([{**small, "transient_mib": 10.0, "config_batch": 32},
                                      {**large, "transient_mib": 16.0, "config_batch": 32}])
    # transient 10 MiB at batch 2, 16 at batch 4: 3 MiB per image, 4 + 3 b above it
    assert line["transient_mib_per_image"] == 3.0
    assert line["per_replica_mib"] == {"1x32": round(small["state_mib"] + 4 + 96), "8x4": round(small["state_mib"] + 16)}


def test_class_mean_rmse_against_hand_computation():
    real_means = np.stack([np.full((4, 4, 1), -0.5), np.full((4, 4, 1), 0.25)])

    def constant_generator(value):
        return lambda inputs, training: tf.fill([tf.shape(inputs[0])[0], 4, 4, 1], value)

    assert learning_run.class_mean_rmse(constant_generator(-0.5), real_means, z_dim=3) == pytest.approx(0.375)
    assert learning_run.class_mean_rmse(constant_generator(0.0), real_means, z_dim=3) == pytest.approx(0.375)
    dataset = tf.data.Dataset.from_tensors((tf.constant(real_means, tf.float32), tf.constant([0, 1]))).repeat()
    np.testing.assert_allclose(learning_run.real_class_means(dataset, 2, batches=3), real_means)


def test_profile_summary_from_a_real_trace(tmp_path):
    x, w = tf.random.normal([4, 16, 16, 8]), tf.random.normal([3, 3, 8, 8])
    step = tf.function(lambda x, w: tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME")) * 2.0)
    step(x, w)
    tf.profiler.experimental.start(str(tmp_path))
    step(x, w).numpy()
    tf.profiler.experimental.stop()
    (path,) = glob.glob(os.path.join(tmp_path, "plugins", "profile", "*", "*.xplane.pb"))
    times = profile_step.kernel_times(path)
    assert any("Conv2D" in name for name in times) and all(v >= 0 for v in times.values())
    conv, grad = "generator_1/a/conv:_MklNativeConv2D", "gradient_tape/generator_3/a/conv:_MklNativeConv2DBackpropFilter"
    fake = collections.Counter({conv: 2.0, grad: 1.0, "c:_MklMatMul": 0.5, "discriminator/d:Mul": 0.25,
                                "CpuExecutable::ExecuteAsyncOnStream": 0.125})
    best = profile_step.best_per_op([fake, collections.Counter({conv: 1.5, "discriminator/d:Mul": 0.5})])
    summary = profile_step.summarize(best, {"generator_1/a/conv": 3_000_000_000})
    assert summary["kernel_s_per_step"] == 3.375
    assert summary["by_category_s_per_step"] == {"convolution": 2.5, "matmul": 0.5, "other": 0.375}
    assert summary["top_ops"][conv] == {"s": 1.5, "gflop_per_s": 2.0}
    assert summary["by_part_s_per_step"] == {
        "D forward": {"other": 0.25}, "G backward": {"convolution": 1.0}, "G forward": {"convolution": 1.5},
        "rest (optimizers, spectral norm, losses)": {"matmul": 0.5},
        "XLA-compiled kernels": {"other": 0.125}}


def test_fid_over_time_table_and_plot_from_saved_results(tmp_path):
    """The summary compares every recipe at the last minute all its runs reached."""
    from benchmarks.fid_over_time import plot, summary_rows

    results = [
        {"label": "old", "run": "a", "points": [{"step": 100, "minutes": 5.0, "fid": 9.0, "is": 5.0},
                                                {"step": 200, "minutes": 10.0, "fid": 7.0, "is": 6.0}]},
        {"label": "old", "run": "b", "points": [{"step": 100, "minutes": 6.0, "fid": 8.0, "is": 5.5},
                                                {"step": 180, "minutes": 9.0, "fid": 6.0, "is": 6.5}]},
        {"label": "new", "run": "c", "points": [{"step": 400, "minutes": 9.5, "fid": 3.0}]},
    ]
    rows = summary_rows(results)
    assert rows[2] == "| old | 2 | 9.0 | 100, 180 | 7.50 (6.00-9.00) | 5.75 |"  # run a at 5.0 min, run b at 9.0
    assert rows[3] == "| new | 1 | 9.5 | 400 | 3.00 (3.00-3.00) | - |"
    plot(results, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot(results, tmp_path / "two.png", ("step", "minutes"))  # two panels side by side: twice as wide
    from PIL import Image

    assert Image.open(tmp_path / "two.png").width == 2 * Image.open(tmp_path / "curves.png").width


def test_fid_over_time_takes_every_kept_checkpoint_or_the_newest_n_in_step_order(tmp_path):
    from benchmarks.fid_over_time import kept_checkpoints

    (tmp_path / "checkpoints").mkdir()
    names = ["ckpt-500", "ckpt-1000", "ckpt-10000", "ckpt-1500"]  # 10000 sorts before 1500 as text
    (tmp_path / "checkpoints" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-1500"\n' + "".join(f'all_model_checkpoint_paths: "{n}"\n' for n in names)
    )
    steps = [int(p.rsplit("-", 1)[1]) for p in kept_checkpoints(tmp_path)]
    assert steps == [500, 1000, 1500, 10000]
    assert [int(p.rsplit("-", 1)[1]) for p in kept_checkpoints(tmp_path, last=2)] == [1500, 10000]
    with pytest.raises(SystemExit, match="no checkpoints"):
        kept_checkpoints(tmp_path / "elsewhere")


def test_checkpoint_save_benchmark_times_a_full_training_state():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.checkpoint_save", "--configs", "configs/fashion_mnist32.yaml",
         "--repeats", "1", "--set", "model.ch=4"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = json.loads(result.stdout)["configs"]
    # Every G and D value is in the checkpoint as float32, with Adam's two slots per trainable one and
    # the EMA copy of G on top: more than twice the bytes of G and D alone.
    assert row["checkpoint_bytes"] > 2 * 4 * row["g_and_d_parameters"] > 0
    assert row["checkpoint_variables"] > 300
    assert 0 < row["save_s_min"] <= row["save_s_median"] and row["first_save_s"] > 0 and row["restore_s"] > 0


def test_ablation_variants_leave_out_their_groups_of_fast_forms():
    from benchmarks.ablation import GROUPS, VARIANTS, ops_setting
    from sagan_tf.ops_choice import OPS, parse

    assert ops_setting("all") == "fast" and ops_setting("none") == "reference"
    left_out = set()
    for variant in VARIANTS[1:-1]:
        choice = parse(ops_setting(variant))
        missing = set(OPS) - choice.fast
        assert missing == set(GROUPS[variant.removeprefix("no_")])
        left_out |= missing
    assert left_out == set(OPS)  # every fast form is some variant's subject
