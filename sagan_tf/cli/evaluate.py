"""Measure a trained run: sagan-evaluate --logdir RUN --num-samples N --metrics is,fid,kid,precision,recall.

Samples ``N`` images from the run's generator (its EMA when the run has one; ``--raw`` for the
trained G), class-balanced, and computes the Inception Score, FID and intra-FID of SAGAN section 5,
KID, precision/recall and density/coverage against the real images of the run's dataset (their
Gaussian statistics are cached and reused) or FID against a statistics file
(``--reference-stats PATH.npz``, mu and sigma). Features come from Inception-v3
(``--inception-weights PATH`` without network) or, for domain metrics, from any Keras model
(``--feature-model PATH``, e.g. made by ``sagan-train-feature-model``).
Prints one JSON object on stdout (everything else goes to stderr), with the ``protocol`` its numbers
depend on; ``--out FILE`` also writes it, and the run keeps it in ``RUN/evaluations/`` for the model
card of its export.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sagan_tf import files
from sagan_tf.cli.arguments import add_run_source, parser, positive, run_directory
from sagan_tf.errors import SaganError, exits_cleanly

# statistics.METRICS, named here for --help without TensorFlow
METRIC_NAMES = ("is", "fid", "intra_fid", "kid", "precision", "recall", "density", "coverage")
NEEDS_IMAGES = ("intra_fid", "kid", "precision", "recall", "density", "coverage")  # not a mu/sigma file


def parse_metrics(text: str, num_classes: int) -> list[str]:
    from sagan_tf.evaluation.metrics.statistics import METRICS

    names = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
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
    p.add_argument("--metrics", default="is,fid", help=f"comma-separated subset of {', '.join(METRIC_NAMES)}")
    p.add_argument("--k-pr", type=int, default=3, help="k of the k-NN radii of precision and recall (Kynkaanniemi et al.)")
    p.add_argument("--k-dc", type=int, default=5, help="k of the k-NN radii of density and coverage (Naeem et al.)")
    p.add_argument("--kid-subset-size", type=int, default=1000, help="KID: samples per subset (of each set)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID: subsets its mean and std are taken over")
    p.add_argument("--feature-model", help="Keras model file for domain metrics (default: Inception-v3)")
    p.add_argument("--inception-weights", help="InceptionV3 weights file (default: Keras' ImageNet download)")
    p.add_argument("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR)")
    p.add_argument("--split", help="real images' split (default: eval.split, else data.split)")
    p.add_argument("--num-real", type=int, help="real images for the reference statistics (default: eval.num_real; 0: all)")
    p.add_argument("--stats-cache", help="directory of cached reference statistics (default: eval.stats_cache)")
    stats = p.add_mutually_exclusive_group()
    stats.add_argument("--reference-stats", metavar="PATH.npz",
                       help="FID against this file's mu and sigma (TTUR / clean-fid format) instead of the dataset")
    stats.add_argument("--save-reference-stats", metavar="PATH.npz",
                       help="also write the dataset's reference mu and sigma to this file")
    p.add_argument("--batch-size", type=int, help="images per forward pass (default: eval.batch_size)")
    p.add_argument("--checkpoint", help="latest (default), best (lowest in-training FID) or a checkpoint path")
    p.add_argument("--raw", action="store_true", help="the trained G instead of its EMA")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled z and of KID's subsets")
    p.add_argument("--out", help="also write the JSON result to this file")
    return p.parse_args(argv)


def check_arguments(args, metrics: list[str], num_classes: int) -> None:
    """The user errors that can be told before any image is generated, as one line each."""
    positive("--num-samples", args.num_samples)
    positive("--batch-size", args.batch_size)
    for flag in ("--k-pr", "--k-dc", "--kid-subsets"):
        positive(flag, getattr(args, flag[2:].replace("-", "_")))
    if args.kid_subset_size < 2:
        raise SaganError(f"--kid-subset-size must be >= 2, got {args.kid_subset_size}")
    if args.num_real is not None and args.num_real < 0:
        raise SaganError(f"--num-real must be >= 0, got {args.num_real}")
    if "is" in metrics and args.num_samples < 2:
        raise SaganError("the Inception Score needs at least 2 samples")
    if "kid" in metrics and args.num_samples < 2:
        raise SaganError("KID needs at least 2 samples")
    if "recall" in metrics and args.num_samples <= args.k_pr:
        raise SaganError(f"recall needs --num-samples > --k-pr ({args.k_pr}): the k-NN radii of the generated set")
    if "intra_fid" in metrics and args.num_samples < 2 * num_classes:
        raise SaganError(f"intra_fid needs --num-samples >= 2 per class ({2 * num_classes})")
    if args.reference_stats:
        needing = [m for m in metrics if m in NEEDS_IMAGES]
        if needing:
            raise SaganError(f"--reference-stats holds mu and sigma only (FID); {', '.join(needing)} need the real images")
        if "fid" not in metrics:
            raise SaganError("--reference-stats is for FID: add fid to --metrics")


def evaluate(args) -> dict:
    from sagan_tf.evaluation.metrics.feature_model import load_extractor
    from sagan_tf.evaluation.metrics.inception import file_digest
    from sagan_tf.evaluation.metrics.protocol import (
        dataset_reference,
        evaluation_protocol,
        file_reference,
        generator_description,
    )
    from sagan_tf.evaluation.metrics.reference_file import load_reference_stats, save_reference_stats
    from sagan_tf.evaluation.metrics.statistics import (
        FEATURE_SET_METRICS,
        FeatureSetOptions,
        Statistics,
        compute_metrics,
        generated_statistics,
        reference_statistics,
    )
    from sagan_tf.training.run_dir import checkpoint_step, load_generator, load_run_config, resolve_checkpoint

    cfg = load_run_config(args.logdir)
    ev = cfg.eval
    metrics = parse_metrics(args.metrics, cfg.data.num_classes)
    check_arguments(args, metrics, cfg.data.num_classes)
    checkpoint = resolve_checkpoint(args.logdir, args.checkpoint)
    generator, cfg = load_generator(args.logdir, ema=not args.raw, checkpoint=checkpoint)
    extractor = load_extractor(args.feature_model or ev.feature_model, args.inception_weights or ev.inception_weights)
    if "is" in metrics and not extractor.has_logits:
        raise SaganError("--metrics is: the feature model has no logits (it needs a layer named 'features')")
    batch = args.batch_size or ev.batch_size
    split = args.split or ev.split or cfg.data.split
    num_real = ev.num_real if args.num_real is None else args.num_real
    per_class = "intra_fid" in metrics
    keep = any(m in FEATURE_SET_METRICS for m in metrics)
    real, reference = None, None
    if args.reference_stats:
        overall = load_reference_stats(args.reference_stats, extractor.dim)
        real = Statistics(overall, {})
        reference = file_reference(args.reference_stats, file_digest(args.reference_stats, 64))
        split = Path(args.reference_stats).name
    elif any(m in metrics for m in ("fid", *NEEDS_IMAGES)) or args.save_reference_stats:
        real = reference_statistics(
            cfg.data, extractor, split, num_real, per_class, batch, args.data_dir, args.stats_cache or ev.stats_cache,
            keep_features=keep,
        )
        reference = dataset_reference(cfg.data, split)
        if args.save_reference_stats:
            try:
                save_reference_stats(args.save_reference_stats, real.overall)
            except OSError as e:
                raise SaganError(f"cannot write --save-reference-stats {args.save_reference_stats}: "
                                 f"{e.strerror or e}") from None
    generated = generated_statistics(
        generator, extractor, args.num_samples, cfg.data.num_classes, per_class, batch, args.seed, keep_features=keep
    )
    options = FeatureSetOptions(args.k_pr, args.k_dc, args.kid_subset_size, args.kid_subsets, args.seed)
    num_reference = (real.overall.count or None) if real is not None else None
    step = checkpoint_step(checkpoint)
    result = {
        "logdir": str(args.logdir),
        "checkpoint": checkpoint,
        "step": step,
        "generator": generator.name,
        "features": extractor.identity,
        "num_samples": args.num_samples,
        "real_split": split if real is not None else None,
        "num_real": num_reference,
        "seed": args.seed,
        "metrics": metrics,
        "protocol": evaluation_protocol(
            feature_network=extractor.describe((cfg.data.resolution, cfg.data.resolution)),
            generator=generator_description(generator.name, args.logdir, checkpoint, step, args.pretrained),
            num_generated=args.num_samples,
            reference=reference,
            num_reference=num_reference,
            seed=args.seed,
            metrics=metrics,
            options=options,
        ),
    }
    try:
        result.update(compute_metrics(metrics, generated, real, ev.is_splits, options))
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
