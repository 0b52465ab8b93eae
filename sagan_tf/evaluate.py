"""Measure a run: ``python -m sagan_tf.evaluate --logdir DIR --num-samples N --metrics is,fid,intra_fid``.

Samples ``N`` images from the run's generator (its EMA when the run has one; ``--raw`` for the
trained G), class-balanced, and computes the Inception Score, FID and intra-FID of SAGAN section 5
against the real images of the run's dataset (their statistics are cached and reused). Features come
from Inception-v3 (``--inception-weights PATH`` without network) or, for domain metrics, from any
Keras model (``--feature-model PATH``, e.g. made by ``python -m sagan_tf.tools.train_feature_model``).
Prints one JSON object; ``--out FILE`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from sagan_tf.errors import SaganError, exits_cleanly

BEST_DIR = "best_fid"  # beside checkpoints/: the generator with the lowest in-training FID


def parse_metrics(text: str, num_classes: int) -> list[str]:
    from sagan_tf.metrics.statistics import METRICS

    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise SaganError(f"--metrics must be a comma-separated subset of {','.join(METRICS)}, got {text!r}")
    if "intra_fid" in names and num_classes == 0:
        raise SaganError("intra_fid needs a class-conditional run (data.num_classes > 0)")
    return names


def resolve_checkpoint(logdir: str, which: str | None) -> str:
    """``None``/"latest" -> the latest checkpoint, "best" -> the best-FID one, else a path."""
    import tensorflow as tf

    from sagan_tf.errors import CheckpointError
    from sagan_tf.run_dir import latest_checkpoint

    if which in (None, "latest"):
        return latest_checkpoint(logdir)
    if which == "best":
        path = tf.train.latest_checkpoint(str(Path(logdir) / BEST_DIR))
        if path is None:
            raise CheckpointError(f"{logdir} has no best-FID checkpoint (train with log.fid_every > 0)")
        return path
    if not tf.io.gfile.exists(which + ".index"):
        raise CheckpointError(f"checkpoint {which} not found (expected {which}.index)")
    return which


def checkpoint_step(path: str) -> int | None:
    match = re.search(r"-(\d+)$", path)
    return int(match.group(1)) if match else None


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m sagan_tf.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--logdir", required=True)
    p.add_argument("--num-samples", type=int, default=50000, help="generated images (paper: 50000)")
    p.add_argument("--metrics", default="is,fid", help="comma-separated: is, fid, intra_fid")
    p.add_argument("--feature-model", help="Keras model file for domain metrics (default: Inception-v3)")
    p.add_argument("--inception-weights", help="InceptionV3 weights file (default: Keras' ImageNet download)")
    p.add_argument("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR)")
    p.add_argument("--split", help="real images' split (default: eval.split, else data.split)")
    p.add_argument("--num-real", type=int, help="real images for the reference statistics (0: all)")
    p.add_argument("--stats-cache", help="directory of cached reference statistics")
    p.add_argument("--batch-size", type=int, help="images per forward pass")
    p.add_argument("--checkpoint", help="latest (default), best (lowest in-training FID) or a checkpoint path")
    p.add_argument("--raw", action="store_true", help="the trained G instead of its EMA")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled z")
    p.add_argument("--out", help="also write the JSON result to this file")
    return p.parse_args(argv)


def evaluate(args) -> dict:
    from sagan_tf.metrics.feature_model import load_extractor
    from sagan_tf.metrics.statistics import compute_metrics, generated_statistics, reference_statistics
    from sagan_tf.run_dir import load_generator, load_run_config

    cfg = load_run_config(args.logdir)
    ev = cfg.eval
    metrics = parse_metrics(args.metrics, cfg.data.num_classes)
    for flag, value in (("--num-samples", args.num_samples), ("--batch-size", args.batch_size)):
        if value is not None and value <= 0:
            raise SaganError(f"{flag} must be positive, got {value}")
    if args.num_real is not None and args.num_real < 0:
        raise SaganError(f"--num-real must be >= 0, got {args.num_real}")
    if "is" in metrics and args.num_samples < 2:
        raise SaganError("the Inception Score needs at least 2 samples")
    if "intra_fid" in metrics and args.num_samples < 2 * cfg.data.num_classes:
        raise SaganError(f"intra_fid needs --num-samples >= 2 per class ({2 * cfg.data.num_classes})")
    checkpoint = resolve_checkpoint(args.logdir, args.checkpoint)
    generator, cfg = load_generator(args.logdir, ema=not args.raw, checkpoint=checkpoint)
    extractor = load_extractor(args.feature_model or ev.feature_model, args.inception_weights or ev.inception_weights)
    if "is" in metrics and not extractor.has_logits:
        raise SaganError("--metrics is: the feature model has no logits (it needs a layer named 'features')")
    batch = args.batch_size or ev.batch_size
    split = args.split or ev.split or cfg.data.split
    num_real = ev.num_real if args.num_real is None else args.num_real
    per_class = "intra_fid" in metrics
    real = None
    if "fid" in metrics or per_class:
        real = reference_statistics(
            cfg.data, extractor, split, num_real, per_class, batch, args.data_dir, args.stats_cache or ev.stats_cache
        )
    generated = generated_statistics(
        generator, extractor, args.num_samples, cfg.data.num_classes, per_class, batch, args.seed
    )
    result = {
        "logdir": str(args.logdir),
        "checkpoint": checkpoint,
        "step": checkpoint_step(checkpoint),
        "generator": generator.name,
        "features": extractor.identity,
        "num_samples": args.num_samples,
        "real_split": split if real is not None else None,
        "num_real": real.overall.count if real is not None else None,
    }
    try:
        result.update(compute_metrics(metrics, generated, real, ev.is_splits))
    except ValueError as e:
        raise SaganError(str(e)) from None
    return result


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = evaluate(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text + "\n")
        tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
