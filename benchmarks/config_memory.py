"""Memory a built-in config needs per device (replica): measured small, computed for its batch.

``python -m benchmarks.config_memory [--configs fashion_mnist32 cifar10_32 ...] [--batches 4 8]``

For each config, in its own process per batch size, in float32 on the CPU: the real training step
(``SAGAN.train_step`` with the config's ``d_steps``, one warm-up step for tracing) on a synthetic
batch; TensorFlow's CPU allocator gives

* ``transient_mib``: the allocator's peak during one measured step minus what was live before it:
  activations kept for the backward pass, gradients, attention maps (measured);
* ``state_mib``: G, its EMA copy and D (every variable, spectral-norm vectors and BN statistics
  included) and Adam's two moments of every trainable variable, 4 bytes each (computed from the
  built networks; the same at every batch size).

The transient part (activations kept for the backward pass, gradients, attention maps) grows
linearly with the per-replica batch; the line through the measured batches gives, **computed**:

* ``per_replica_mib[B]``: ``state + transient(B)`` at the config's global batch on one device and at
  its batch split over 8 replicas (``--batch-size`` is global; each replica holds the whole state).

What a GPU needs on top (not measured here): the CUDA context and cuDNN/XLA workspaces (typically
0.3-1 GiB) and allocator fragmentation. Mixed precision (``mixed_bfloat16``/``mixed_float16``)
keeps activations in 16 bits: less than these float32 numbers. Folder configs are measured with 10
classes (``data.num_classes`` is counted from the folder at training time).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

DEFAULT_CONFIGS = ("fashion_mnist32", "cifar10_32", "celeba64", "imagenet128", "folder32", "folder64", "folder128")
FOLDER_OVERRIDES = ["data.num_classes=10", "data.path=/nonexistent"]  # synthetic data: nothing is read


def measure(config: str, batch: int, extra: list[str] = ()) -> dict:
    import keras
    import tensorflow as tf

    from benchmarks.train_step import synthetic_dataset
    from sagan_tf import config as config_lib
    from sagan_tf.training.builders import build_sagan
    from sagan_tf.training.loop import make_step_function

    base = (FOLDER_OVERRIDES if config.startswith("folder") else []) + list(extra)
    cfg = config_lib.load(config, base + [f"train.batch_size={batch}", "train.precision=float32"])
    keras.utils.set_random_seed(0)
    model = build_sagan(cfg)
    step = make_step_function(model, tf.distribute.get_strategy())
    iterator = iter(synthetic_dataset(cfg, batch * cfg.train.d_steps))
    float(step(iterator)["d_loss"])
    current = tf.config.experimental.get_memory_info("CPU:0")["current"]
    tf.config.experimental.reset_memory_stats("CPU:0")
    float(step(iterator)["d_loss"])
    peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
    g, d = model.generator, model.discriminator
    trainable = sum(int(v.numpy().size) for v in g.trainable_variables + d.trainable_variables)
    # G, its EMA copy, D (every variable), Adam's two moments of every trainable one; float32
    state_bytes = 4 * (2 * g.count_params() + d.count_params() + 2 * trainable)
    return {
        "batch": batch,
        "state_mib": round(state_bytes / 2**20, 1),
        "transient_mib": round((peak - current) / 2**20, 1),
        "g_params": model.generator.count_params(),
        "d_params": model.discriminator.count_params(),
        "config_batch": config_lib.load(config, base).train.batch_size,
    }


def per_replica(rows: list[dict]) -> dict:
    """The line through (batch, peak - state) of two measurements, evaluated at the config's batch
    on one replica and split over 8."""
    (b1, r1), (b2, r2) = sorted((r["batch"], r) for r in rows)[:2]
    t1, t2 = r1["transient_mib"], r2["transient_mib"]
    slope = (t2 - t1) / (b2 - b1)
    state = r1["state_mib"]
    batch = r1["config_batch"]
    out = {}
    for replicas in (1, 8):
        b = max(batch // replicas, 1)
        out[f"{replicas}x{b}"] = round(state + t1 + slope * (b - b1), 0)
    return {"state_mib": state, "transient_mib_per_image": round(slope, 2), "per_replica_mib": out}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.config_memory", description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS))
    p.add_argument("--batches", nargs=2, type=int, default=[4, 8], help="the two per-replica batches measured")
    p.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # child process: CONFIG BATCH
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return 0

    from benchmarks.common import print_report

    results = []
    for config in args.configs:
        rows = []
        for batch in args.batches:
            out = subprocess.run([sys.executable, "-m", "benchmarks.config_memory", "--one", config, str(batch)],
                                 capture_output=True, text=True)
            if out.returncode:
                rows = None
                results.append({"config": config, "failed": out.stderr.strip().splitlines()[-3:]})
                break
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if rows:
            results.append({"config": config, "batch": rows[0]["config_batch"], "g_params": rows[0]["g_params"],
                            "d_params": rows[0]["d_params"], "measured": rows, **per_replica(rows)})
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    return print_report({"benchmark": "config_memory", "precision": "float32", "device": "CPU", "configs": results})


if __name__ == "__main__":
    sys.exit(main())
