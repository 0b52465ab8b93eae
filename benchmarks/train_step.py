"""Training-step throughput: ``python -m benchmarks.train_step --config FILE --batch-size N``.

Runs the real ``SAGAN.train_step`` (through the same distributed step function as the trainer) on a
fixed in-memory batch, so the number measures the model, not the input pipeline. Prints JSON: the
median seconds per step over ``--steps`` steps after ``--warmup`` steps, and images per second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def measure(cfg, strategy, steps: int, warmup: int) -> dict:
    import numpy as np
    import tensorflow as tf

    from sagan_tf.builders import build_sagan
    from sagan_tf.loop import make_step_function

    d = cfg.data
    batch = cfg.train.batch_size * cfg.train.d_steps
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch, d.resolution, d.resolution, d.channels)).astype(np.float32)
    labels = rng.integers(0, max(d.num_classes, 1), batch).astype(np.int32)
    dataset = tf.data.Dataset.from_tensors((images, labels)).repeat()
    with strategy.scope():
        model = build_sagan(cfg)
    step_fn = make_step_function(model, strategy)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        logs = step_fn(iterator)
        float(logs["g_loss"])  # wait for the step to finish
        if i >= warmup:
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {
        "median_s_per_step": round(median, 5),
        "images_per_s": round(cfg.train.batch_size / median, 2),
        "steps_timed": steps,
        "warmup_steps": warmup,
        "step_times_s": [round(t, 5) for t in times],
        "g_params": model.generator.count_params(),
        "d_params": model.discriminator.count_params(),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_step", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--strategy", default="default")
    p.add_argument("--set", nargs="+", action="extend", default=[])
    args = p.parse_args(argv)

    from benchmarks.common import environment
    from sagan_tf import config as config_lib
    from sagan_tf.distribute import make_strategy

    overrides = list(args.set) + ([f"train.batch_size={args.batch_size}"] if args.batch_size else [])
    cfg = config_lib.load(args.config, overrides)
    strategy = make_strategy(args.strategy)
    result = {
        "benchmark": "train_step",
        "config": args.config,
        "overrides": args.set,
        "batch_size": cfg.train.batch_size,
        "strategy": args.strategy,
        "replicas": strategy.num_replicas_in_sync,
        **measure(cfg, strategy, args.steps, args.warmup),
        "environment": environment(),
    }
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
