"""What an evaluation costs: each part timed on this CPU, and the Inception work computed for GPUs.

``python -m benchmarks.evaluation_cost [--batch-size 50] [--batches 3] [--set-size 5000] [--generated 50000] [--real 50000]``

Timed in float32, best of ``--batches`` batches after one warm-up batch, per image:

* ``generator``: the shipped ``fashion_mnist32`` EMA generator (Keras, ``training=False``);
* ``inception_tf``: Keras' InceptionV3 on 32x32 grey images, TF bilinear resize to 299x299 and the
  forward pass to pool3 and logits (random weights: the time does not depend on their values);
* ``clean_resize`` and ``inception_clean``: clean-fid's resize alone (PIL bicubic, per channel),
  and the resize plus the same forward pass;
* ``domain_classifier``: the ``sagan-train-feature-model`` CNN at 32x32;

and per call (timed first, before any TensorFlow work starts threads): FID from two 2048-d and two
128-d Gaussians (the matrix square root), the IS of
``--generated`` logits of 1008 classes, KID (100 subsets of 1000) and precision/recall/density/
coverage together (k = 3 and 5) on ``--set-size`` real and generated vectors of 2048 and 128
dimensions (standard normal; the time does not depend on the values).

Computed, not measured: the FLOPs of one Inception forward pass, counted on the traced Keras model
(``benchmarks.flops``: 2 x multiply-adds of convolutions and matrix products), the seconds of
``--generated`` + ``--real`` images on this CPU from the measured time, and on GPUs from their FP32
peak (a lower bound: no GPU runs a network at its peak). The 2015 Inception graph is the same
architecture, so the same count applies to it; it was not timed (its file cannot be downloaded
here). Printed: JSON.
"""

from __future__ import annotations

import argparse
import json
import time

GPU_FP32_PEAK_TFLOPS = {  # vendors' data sheets, FP32 without tensor cores
    "NVIDIA T4": 8.1,
    "NVIDIA V100 SXM2": 15.7,
    "NVIDIA A100": 19.5,
    "NVIDIA H100 SXM": 67.0,
}


def best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (tracing)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def per_image_times(batch: int, repeats: int) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from sagan_tf import pretrained
    from sagan_tf.evaluation.feature_classifier import build_classifier
    from sagan_tf.evaluation.metrics.inception import InceptionExtractor
    from sagan_tf.evaluation.metrics.resize import clean_resize
    from sagan_tf.runs.run_dir import load_generator

    generator, _ = load_generator(pretrained.directory("fashion_mnist32"))
    z = tf.random.stateless_normal([batch, generator.z_dim], seed=[0, 0])
    labels = tf.constant(np.arange(batch) % 10, tf.int32)
    sample = tf.function(lambda: generator((z, labels), training=False))
    images = sample().numpy()
    keras.utils.set_random_seed(0)
    inception = InceptionExtractor("random")
    clean = InceptionExtractor("random", resize="clean")
    classifier = build_classifier(32, 1, 10)
    classify = tf.function(lambda x: classifier(x, training=False))
    seconds = {
        "generator": best_seconds(lambda: sample().numpy(), repeats),
        "inception_tf": best_seconds(lambda: inception(images), repeats),
        "clean_resize": best_seconds(lambda: clean_resize(images), repeats),
        "inception_clean": best_seconds(lambda: clean(images), repeats),
        "domain_classifier": best_seconds(lambda: classify(images).numpy(), repeats),
    }
    return {name: s / batch for name, s in seconds.items()}, inception


def inception_flops(inception) -> int:
    import tensorflow as tf

    from benchmarks.flops import function_flops

    forward = tf.function(lambda x: inception._model(x, training=False))  # noqa: SLF001 (the pool3 network)
    return sum(function_flops(forward, tf.TensorSpec([1, 299, 299, 3], tf.float32)).values())


def metric_times(set_size: int, generated: int, repeats: int) -> dict:
    import numpy as np

    from sagan_tf.evaluation.metrics import GaussianStats, frechet_distance, inception_score, kid, manifold_metrics

    rng = np.random.default_rng(0)
    out = {}
    for dim in (2048, 128):
        a, b = rng.standard_normal((4 * dim, dim)), rng.standard_normal((4 * dim, dim)) + 0.05
        stats = GaussianStats.from_features(a), GaussianStats.from_features(b)
        out[f"fid_{dim}d_s"] = best_seconds(lambda s=stats: frechet_distance(*s), repeats)
        real = rng.standard_normal((set_size, dim)).astype(np.float32)
        fake = (rng.standard_normal((set_size, dim)) + 0.05).astype(np.float32)
        out[f"kid_{dim}d_s"] = best_seconds(lambda r=real, f=fake: kid(r, f, 1000, 100, 0), 1)
        out[f"precision_recall_density_coverage_{dim}d_s"] = best_seconds(
            lambda r=real, f=fake: manifold_metrics(r, f, ["precision", "recall", "density", "coverage"]), 1)
    logits = rng.standard_normal((generated, 1008))
    out["is_s"] = best_seconds(lambda: inception_score(logits, 10), 1)
    return {k: round(v, 4) for k, v in out.items()}


def main(argv: list[str] | None = None) -> None:
    from benchmarks.common import environment, load_average, matmul_peak_gflops

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--batches", type=int, default=3, help="timed batches (best of) after one warm-up batch")
    p.add_argument("--set-size", type=int, default=5000, help="real and generated vectors for KID and the k-NN metrics")
    p.add_argument("--generated", type=int, default=50000, help="generated images of the computed totals")
    p.add_argument("--real", type=int, default=50000, help="real images of the computed totals")
    args = p.parse_args(argv)
    load_before = load_average()
    metrics = metric_times(args.set_size, args.generated, args.batches)  # first: no TensorFlow threads yet
    peak = matmul_peak_gflops("float32")
    per_image, inception = per_image_times(args.batch_size, args.batches)
    flops = inception_flops(inception)
    images = args.generated + args.real
    result = {
        "benchmark": "evaluation_cost",
        "precision": "float32 networks, float64 metrics",
        "batch_size": args.batch_size,
        "seconds_per_image": {k: round(v, 5) for k, v in per_image.items()},
        "metrics_seconds": metrics,
        "inception_flops_per_image": flops,
        "inception_achieved_gflops": round(flops / per_image["inception_tf"] / 1e9, 1),
        "matmul_peak_gflops_float32": peak,
        "computed": {
            "images": images,
            "cpu_inception_tf_hours": round(images * per_image["inception_tf"] / 3600, 2),
            "cpu_inception_clean_hours": round(images * per_image["inception_clean"] / 3600, 2),
            "cpu_domain_classifier_minutes": round(images * per_image["domain_classifier"] / 60, 2),
            "gpu_inception_seconds_at_fp32_peak": {
                name: round(images * flops / (tflops * 1e12), 1) for name, tflops in GPU_FP32_PEAK_TFLOPS.items()
            },
        },
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
    print(json.dumps({**result, "environment": environment()}, indent=2))


if __name__ == "__main__":
    main()
