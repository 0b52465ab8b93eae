"""Peak memory of one self-attention training step, whole map vs chunked queries.

``python -m benchmarks.attention_memory [--batch-size 8] [--variant paper] [--chunk 256]``

For attention at 32x32 ("feat32") and 64x64 ("feat64") with the channel counts of the 128x128
generator at ch=64 (256 and 128 channels), each case runs in its own process: one forward and
backward pass of ``SelfAttention`` (gradients for the input and all weights, as in training).
Printed per case (JSON):

* ``peak_tf_mib``: peak bytes held by TensorFlow's CPU allocator during the step
  (``tf.config.experimental.get_memory_info``, reset just before the step), i.e. activations,
  maps and gradients;
* ``peak_rss_delta_mib``: growth of the process's peak resident memory (``VmHWM``) over the step,
  what the operating system sees;
* ``map_mib``: the size of one whole float32 attention map for the batch, B * N * N_key * 4 bytes.

Without chunking the peak grows with N^2 (x16 from feat32 to feat64); with chunking it grows with N.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CASES = {"feat32": (32, 256), "feat64": (64, 128)}  # resolution, channels of the 128x128 G at ch=64


def measure_case(resolution: int, channels: int, batch: int, variant: str, chunk: int) -> dict:
    """One forward + backward pass of the attention layer in this process; peak memory of it."""
    import numpy as np
    import tensorflow as tf

    from benchmarks.common import reset_peak_rss, status_kib
    from sagan_tf.layers import SelfAttention

    layer = SelfAttention(variant, query_chunk=chunk)
    shape = (batch, resolution, resolution, channels)
    layer.build(shape)
    x = tf.constant(np.random.default_rng(0).normal(size=shape).astype(np.float32))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x, training=True)))
        grads = tape.gradient(loss, [x] + layer.trainable_weights)
        return tf.add_n([tf.reduce_sum(g) for g in grads])

    step.get_concrete_function(x)  # trace outside the measurement
    tf.config.experimental.reset_memory_stats("CPU:0")
    baseline_tf = tf.config.experimental.get_memory_info("CPU:0")["current"]
    rss_reset = reset_peak_rss()
    rss_before = status_kib("VmRSS")
    start = time.perf_counter()
    float(step(x))
    seconds = time.perf_counter() - start
    peak_tf = tf.config.experimental.get_memory_info("CPU:0")["peak"]
    n = resolution * resolution
    n_key = n if variant == "paper" else n // 4
    return {
        "peak_tf_mib": round((peak_tf - baseline_tf) / 2**20, 1),
        "peak_rss_delta_mib": round((status_kib("VmHWM") - rss_before) / 1024, 1) if rss_reset else None,
        "map_mib": round(batch * n * n_key * 4 / 2**20, 1),
        "seconds": round(seconds, 3),
    }


def run_all(batch: int, variant: str, chunk: int, cases=tuple(CASES), modes=("whole", "chunked")) -> list[dict]:
    rows = []
    for name in cases:
        resolution, channels = CASES[name]
        for mode_chunk in [c for c, m in ((0, "whole"), (chunk, "chunked")) if m in modes]:
            cmd = [sys.executable, "-m", "benchmarks.attention_memory", "--one", name, "--batch-size", str(batch),
                   "--variant", variant, "--chunk", str(mode_chunk)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            rows.append({"case": name, "resolution": resolution, "channels": channels,
                         "mode": "chunked" if mode_chunk else "whole", "query_chunk": mode_chunk, **json.loads(out)})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.attention_memory", description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--variant", default="paper", choices=("paper", "pooled"))
    p.add_argument("--chunk", type=int, default=256, help="queries per block in chunked mode")
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--modes", nargs="+", default=["whole", "chunked"], choices=["whole", "chunked"])
    p.add_argument("--one", choices=list(CASES), help=argparse.SUPPRESS)  # child process: one case
    args = p.parse_args(argv)
    if args.one:
        resolution, channels = CASES[args.one]
        print(json.dumps(measure_case(resolution, channels, args.batch_size, args.variant, args.chunk)))
        return 0

    from benchmarks.common import print_report

    result = {
        "benchmark": "attention_memory",
        "batch_size": args.batch_size,
        "variant": args.variant,
        "query_chunk": args.chunk,
        "cases": run_all(args.batch_size, args.variant, args.chunk, tuple(args.cases), tuple(args.modes)),
    }
    return print_report(result)


if __name__ == "__main__":
    sys.exit(main())
