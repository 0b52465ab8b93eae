"""Generator inference throughput: ``python -m benchmarks.generator_throughput --config FILE``.

Images per second of the same generator as Keras (the model called in a ``tf.function``, inference
mode), as the exported SavedModel (``serving_default``: input checks, generator, uint8 output) and
as each TFLite variant in the LiteRT interpreter, at each ``--batch-sizes`` (default 1 and 64).
The generator has the config's architecture and random initial weights (or a run's weights with
``--logdir``; the speed does not depend on them). Prints JSON: per backend and batch size, the
median seconds per call over ``--iters`` calls after ``--warmup`` calls, and images per second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def median_seconds(fn, iters: int, warmup: int) -> tuple[float, list[float]]:
    times = []
    for i in range(warmup + iters):
        start = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times), times


def backends(generator, cfg, workdir: Path, variants: list[str], threads: int) -> dict:
    """{name: f(z, labels) that returns once the images exist on the host}."""
    import tensorflow as tf

    from sagan_tf.serving import tflite
    from sagan_tf.serving.signatures import write_saved_model

    z_dim = cfg.model.z_dim
    keras_fn = tf.function(
        lambda z, labels: generator((z, labels), training=False),
        input_signature=[tf.TensorSpec([None, z_dim], tf.float32), tf.TensorSpec([None], tf.int32)],
    )
    saved_model_dir = workdir / "saved_model"
    write_saved_model(generator, cfg.data.num_classes, z_dim, saved_model_dir)
    serving = tf.saved_model.load(str(saved_model_dir)).signatures["serving_default"]
    out = {
        "keras": lambda z, labels: keras_fn(tf.constant(z), tf.constant(labels)).numpy(),
        "saved_model": lambda z, labels: serving(z=tf.constant(z), labels=tf.constant(labels))["images"].numpy(),
    }
    if variants:
        tflite.write_conversion_source(generator, cfg.data.num_classes, z_dim, workdir / "tflite_source")
    for variant in variants:
        model = tflite.TFLiteGenerator(tflite.convert(workdir / "tflite_source", variant), num_threads=threads)
        out[f"tflite_{variant}"] = lambda z, labels, model=model: model(z, labels)["images"]
    return out


def measure(generator, cfg, batch_sizes: list[int], variants: list[str], iters: int, warmup: int, threads: int) -> dict:
    import numpy as np

    from sagan_tf.serving.signatures import label_count

    rng = np.random.default_rng(0)
    results = {}
    with tempfile.TemporaryDirectory(prefix="generator-throughput-") as workdir:
        for name, fn in backends(generator, cfg, Path(workdir), variants, threads).items():
            results[name] = {}
            for batch in batch_sizes:
                z = rng.standard_normal((batch, cfg.model.z_dim)).astype(np.float32)
                labels = (np.arange(batch) % label_count(cfg.data.num_classes)).astype(np.int32)
                median, times = median_seconds(lambda fn=fn, z=z, labels=labels: fn(z, labels), iters, warmup)
                results[name][str(batch)] = {
                    "median_s": round(median, 9),
                    "images_per_s": round(batch / median, 2),
                    "times_s": [round(t, 9) for t in times],
                }
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.generator_throughput", description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="YAML config: its generator with random initial weights")
    source.add_argument("--logdir", help="a training run: its generator and latest weights")
    p.add_argument("--set", nargs="+", action="extend", default=[], help="config overrides (with --config)")
    p.add_argument("--batch-sizes", default="1,64")
    p.add_argument("--tflite-variants", default="float32,float16,dynamic_range")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="TFLite interpreter threads")
    args = p.parse_args(argv)

    from benchmarks.common import environment
    from sagan_tf import config as config_lib

    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    variants = [v.strip() for v in args.tflite_variants.split(",") if v.strip()]
    if args.logdir:
        from sagan_tf.runs.run_dir import load_generator

        generator, cfg = load_generator(args.logdir)
    else:
        from sagan_tf.training.builders import build_generator

        cfg = config_lib.load(args.config, args.set)
        generator = build_generator(cfg, precision="float32")  # as served (sagan_tf.serving.export)
    result = {
        "benchmark": "generator_throughput",
        "source": args.logdir or args.config,
        "overrides": args.set,
        "weights": "run checkpoint" if args.logdir else "random initial",
        "resolution": cfg.data.resolution,
        "ch": cfg.model.ch,
        "g_params": generator.count_params(),
        "tflite_threads": args.threads,
        "iters": args.iters,
        "warmup": args.warmup,
        "results": measure(generator, cfg, batch_sizes, variants, args.iters, args.warmup, args.threads),
        "environment": environment(),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
