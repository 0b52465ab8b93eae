"""Measure a trained run: sagan-evaluate --logdir RUN --num-samples N --metrics is,fid,intra_fid.

Samples ``N`` images from the run's generator (its EMA when the run has one; ``--raw`` for the
trained G), class-balanced, and computes the Inception Score, FID and intra-FID of SAGAN section 5
against the real images of the run's dataset (their statistics are cached and reused). Features come
from Inception-v3 (``--inception-weights PATH`` without network) or, for domain metrics, from any
Keras model (``--feature-model PATH``, e.g. made by ``sagan-train-feature-model``).
Prints one JSON object on stdout (everything else goes to stderr); ``--out FILE`` also writes it, and
the run keeps it in ``RUN/evaluations/`` for the model card of its export.
"""

from __future__ import annotations

import json
import sys

from sagan_tf import files
from sagan_tf.cli.arguments import add_run_source, parser, positive, run_directory
from sagan_tf.errors import SaganError, exits_cleanly


def parse_metrics(text: str, num_classes: int) -> list[str]:
    from sagan_tf.evaluation.metrics.statistics import METRICS

    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise SaganError(f"--metrics must be a comma-separated subset of {','.join(METRICS)}, got {text!r}")
    if "intra_fid" in names and num_classes == 0:
        raise SaganError("intra_fid needs a class-conditional run (data.num_classes > 0)")
    return names


def parse_args(argv=None):
    p = parser("evaluate", __doc__)
    add_run_source(p)
    p.add_argument("--num-samples", type=int, default=50000, help="generated images (paper: 50000)")
    p.add_argument("--metrics", default="is,fid", help="comma-separated subset of is, fid, intra_fid")
    p.add_argument("--feature-model", help="Keras model file for domain metrics (default: Inception-v3)")
    p.add_argument("--inception-weights", help="InceptionV3 weights file (default: Keras' ImageNet download)")
    p.add_argument("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR)")
    p.add_argument("--split", help="real images' split (default: eval.split, else data.split)")
    p.add_argument("--num-real", type=int, help="real images for the reference statistics (default: eval.num_real; 0: all)")
    p.add_argument("--stats-cache", help="directory of cached reference statistics (default: eval.stats_cache)")
    p.add_argument("--batch-size", type=int, help="images per forward pass (default: eval.batch_size)")
    p.add_argument("--checkpoint", help="latest (default), best (lowest in-training FID) or a checkpoint path")
    p.add_argument("--raw", action="store_true", help="the trained G instead of its EMA")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled z")
    p.add_argument("--out", help="also write the JSON result to this file")
    return p.parse_args(argv)


def evaluate(args) -> dict:
    from sagan_tf.evaluation.metrics.feature_model import load_extractor
    from sagan_tf.evaluation.metrics.statistics import compute_metrics, generated_statistics, reference_statistics
    from sagan_tf.training.run_dir import checkpoint_step, load_generator, load_run_config, resolve_checkpoint

    cfg = load_run_config(args.logdir)
    ev = cfg.eval
    metrics = parse_metrics(args.metrics, cfg.data.num_classes)
    positive("--num-samples", args.num_samples)
    positive("--batch-size", args.batch_size)
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
        "seed": args.seed,
        "metrics": metrics,
    }
    try:
        result.update(compute_metrics(metrics, generated, real, ev.is_splits))
    except ValueError as e:
        raise SaganError(str(e)) from None
    return result


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_directory(args)
    result = evaluate(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        files.write_text(args.out, text + "\n")
    if not args.pretrained:  # the package's own files are not written to
        from sagan_tf.training.run_dir import save_evaluation

        try:
            save_evaluation(args.logdir, result)
        except OSError as e:
            print(f"warning: the result is not kept in the run ({e.strerror or e}); model cards will not show it",
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
