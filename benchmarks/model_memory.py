"""Peak memory of a whole training step with attention at 64x64: whole maps vs chunked queries.

``python -m benchmarks.model_memory [--config configs/imagenet128.yaml] [--batch-size 64] [--chunk 256] [--set k=v ...]``

The case measured: the 128x128 SAGAN with self-attention at 64x64 (N = 4096 positions) in G and D,
trained at batch 64. By default ``configs/imagenet128.yaml`` (the official architecture, pooled
attention) with ``model.ch=16`` (a quarter of the paper's width, so that a step takes seconds on a
CPU; the attention maps do not depend on the width) and ``model.g_attention=[64]``,
``model.d_attention=[64]``. Each mode runs in its own process from the same seed: the real
``SAGAN.train_step`` (one D and one G update, ``sagan_tf.training.loop.make_step_function``) on a synthetic
batch, one warm-up step (tracing), then ``--steps`` measured steps. Printed per mode (JSON):

* ``peak_rss_mib``: the process's peak resident memory (``VmHWM``) over the measured steps, what a
  memory budget (a container limit, a GPU's memory) has to hold, model and optimizer included;
* ``peak_tf_mib``: peak bytes of TensorFlow's CPU allocator over the measured steps;
* ``attention_maps_mib``: the whole float32 maps one forward pass would hold, summed over G's and
  D's attention layers (D sees real and fake images in one call: 2 x batch);
* ``cpu_s_per_step``: CPU seconds (user + system, all threads) per measured step;
* ``s_per_step`` (median) and the losses of the first measured step: chunking changes how the maps
  are computed, not the function, so both modes report the same losses up to float32 rounding.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

DEFAULT_OVERRIDES = ["model.ch=16", "model.g_attention=[64]", "model.d_attention=[64]"]
MODES = ("whole", "chunked")


def attention_maps_mib(cfg) -> float:
    """Bytes of all whole float32 maps of one G and one (real + fake) D forward pass, in MiB."""
    batch = cfg.train.batch_size
    pooled = cfg.model.attention_variant == "pooled"
    total = 0
    for resolutions, images in ((cfg.model.g_attention, batch), (cfg.model.d_attention, 2 * batch)):
        for r in resolutions:
            n = r * r
            total += images * n * (n // 4 if pooled else n) * 4
    return round(total / 2**20, 2)


def measure_mode(cfg, steps: int) -> dict:
    """The training step of ``cfg`` in this process; its peak memory and time."""
    import keras
    import tensorflow as tf

    from benchmarks.common import reset_peak_rss, status_kib
    from benchmarks.train_step import synthetic_dataset
    from sagan_tf.training.builders import build_sagan
    from sagan_tf.training.loop import make_step_function

    keras.utils.set_random_seed(cfg.train.seed)
    strategy = tf.distribute.get_strategy()
    model = build_sagan(cfg)
    iterator = iter(synthetic_dataset(cfg, cfg.train.batch_size * cfg.train.d_steps))
    step = make_step_function(model, strategy)
    float(step(iterator)["d_loss"])  # trace and warm up outside the measurement

    tf.config.experimental.reset_memory_stats("CPU:0")
    rss_reset = reset_peak_rss()
    times, losses, cpu_start = [], None, os.times()
    for _ in range(steps):
        start = time.perf_counter()
        logs = {k: float(v) for k, v in step(iterator).items()}
        times.append(time.perf_counter() - start)
        losses = losses or {k: logs[k] for k in ("d_loss", "g_loss")}
    return {
        "peak_rss_mib": round(status_kib("VmHWM") / 1024, 1) if rss_reset else None,
        "peak_tf_mib": round(tf.config.experimental.get_memory_info("CPU:0")["peak"] / 2**20, 1),
        "s_per_step": round(statistics.median(times), 3),
        "cpu_s_per_step": round(_cpu_seconds(cpu_start) / steps, 3),
        "losses": losses,
    }


def _cpu_seconds(start) -> float:
    """User + system CPU seconds of this process since ``os.times()`` was ``start``."""
    now = os.times()
    return (now.user - start.user) + (now.system - start.system)


def run_modes(config: str, overrides: list[str], chunk: int, steps: int, modes=MODES) -> list[dict]:
    rows = []
    for mode in modes:
        mode_overrides = overrides + [f"model.attention_chunk={chunk if mode == 'chunked' else 0}"]
        cmd = [sys.executable, "-m", "benchmarks.model_memory", "--one", "--config", config, "--steps", str(steps),
               "--set", *mode_overrides]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            # An out-of-memory kill is a result too: the whole maps did not fit.
            rows.append({"mode": mode, "query_chunk": chunk if mode == "chunked" else 0, "failed": True,
                         "returncode": out.returncode, "stderr_tail": out.stderr.strip().splitlines()[-3:]})
            continue
        rows.append({"mode": mode, "query_chunk": chunk if mode == "chunked" else 0, **json.loads(out.stdout)})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.model_memory", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/imagenet128.yaml")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--chunk", type=int, default=256, help="queries per block in chunked mode")
    p.add_argument("--steps", type=int, default=2, help="measured steps after one warm-up step")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--set", nargs="+", action="extend", default=None, help=f"overrides (default: {DEFAULT_OVERRIDES})")
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child process: one mode
    args = p.parse_args(argv)

    from sagan_tf import config as config_lib

    if args.one:
        cfg = config_lib.load(args.config, args.set or [])
        print(json.dumps(measure_mode(cfg, args.steps)))
        return 0

    from benchmarks.common import load_average, print_report

    overrides = (DEFAULT_OVERRIDES if args.set is None else list(args.set)) + [f"train.batch_size={args.batch_size}"]
    cfg = config_lib.load(args.config, overrides)  # validates the overrides before any child starts
    load_before = load_average()
    result = {
        "benchmark": "model_memory",
        "config": args.config,
        "overrides": overrides,
        "batch_size": cfg.train.batch_size,
        "resolution": cfg.data.resolution,
        "attention_variant": cfg.model.attention_variant,
        "g_attention": cfg.model.g_attention,
        "d_attention": cfg.model.d_attention,
        "attention_maps_mib": attention_maps_mib(cfg),
        "modes": run_modes(args.config, overrides, args.chunk, args.steps, tuple(args.modes)),
    }
    result["load_average_before_after"] = [load_before, load_average()]
    return print_report(result)


if __name__ == "__main__":
    sys.exit(main())
