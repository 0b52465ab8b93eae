"""A short training run per precision: do the losses stay finite and do the samples still learn?

``python -m benchmarks.learning_run [--precisions float32 mixed_bfloat16] [--steps 300]``

Trains the same small model (``configs/fashion_mnist32.yaml`` narrowed by ``--set``, the real
input pipeline) from the same seed in each precision and prints JSON: the losses every
``--every`` steps and a sample-quality proxy before and after training,

    class_mean_rmse = mean over classes c of RMS( mean_i G(z_i, c) - mean of real images of class c )

on 64 samples per class from the inference-mode generator: a generator that has learned the
class-conditional image distribution drives it down (from ~0.6 at initialisation, where G draws
grey noise). It is a learning signal, not a quality metric like FID.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

DEFAULT_SET = ["model.ch=16", "train.batch_size=32"]


def real_class_means(dataset, num_classes: int, batches: int = 40):
    import numpy as np

    sums, counts = None, np.zeros(num_classes)
    for images, labels in dataset.take(batches):
        images, labels = images.numpy().astype(np.float64), labels.numpy()
        if sums is None:
            sums = np.zeros((num_classes,) + images.shape[1:])
        for c in range(num_classes):
            sums[c] += images[labels == c].sum(axis=0)
            counts[c] += (labels == c).sum()
    return sums / counts.reshape((-1,) + (1,) * (sums.ndim - 1))


def class_mean_rmse(generator, real_means, z_dim: int, per_class: int = 64, seed: int = 123) -> float:
    import numpy as np
    import tensorflow as tf

    errors = []
    for c, real in enumerate(real_means):
        z = tf.random.stateless_normal([per_class, z_dim], seed=[seed, c])
        images = generator((z, tf.fill([per_class], c)), training=False).numpy().astype(np.float64)
        errors.append(math.sqrt(np.mean((images.mean(axis=0) - real) ** 2)))
    return round(float(np.mean(errors)), 4)


def run(cfg, steps: int, every: int, data_dir) -> dict:
    import keras
    import tensorflow as tf

    from sagan_tf.data import pipeline as data_lib
    from sagan_tf.training import loop
    from sagan_tf.training.builders import build_sagan

    keras.utils.set_random_seed(cfg.train.seed)
    dataset = data_lib.make_dataset(cfg.data, cfg.train.batch_size, data_dir, seed=cfg.train.seed)
    model = build_sagan(cfg)
    means = real_class_means(dataset, cfg.data.num_classes)
    before = class_mean_rmse(model.generator, means, cfg.model.z_dim)
    history = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if (batch + 1) % every == 0:
                history.append({"step": batch + 1, **{k: round(float(logs[k]), 4) for k in ("d_loss", "g_loss")}})

    start = time.perf_counter()
    logs = loop.train(model, dataset, tf.distribute.get_strategy(), steps, [Record()], verbose=0)
    seconds = time.perf_counter() - start
    return {
        "precision": cfg.train.precision,
        "seconds": round(seconds, 1),
        "losses_finite": all(math.isfinite(h[k]) for h in history for k in ("d_loss", "g_loss"))
        and all(math.isfinite(logs[k]) for k in ("d_loss", "g_loss")),
        "class_mean_rmse_before": before,
        "class_mean_rmse_after": class_mean_rmse(model.generator, means, cfg.model.z_dim),
        "losses": history,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.learning_run", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/fashion_mnist32.yaml")
    p.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=25, help="record the losses every N steps")
    p.add_argument("--data-dir", help="TFDS data directory")
    p.add_argument("--set", nargs="+", action="extend", default=None, help=f"overrides (default: {' '.join(DEFAULT_SET)})")
    args = p.parse_args(argv)

    from benchmarks.common import print_report
    from sagan_tf import config as config_lib

    overrides = DEFAULT_SET if args.set is None else args.set
    runs = []
    for precision in args.precisions:
        cfg = config_lib.load(args.config, list(overrides) + [f"train.precision={precision}"])
        runs.append(run(cfg, args.steps, args.every, args.data_dir))
    result = {
        "benchmark": "learning_run",
        "config": args.config,
        "overrides": overrides,
        "steps": args.steps,
        "runs": runs,
    }
    return print_report(result)


if __name__ == "__main__":
    sys.exit(main())
