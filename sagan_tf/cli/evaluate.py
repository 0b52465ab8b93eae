"""Measure a run or an export: sagan-evaluate --logdir RUN | --model EXPORT --num-samples N --metrics is,fid,kid,precision,recall.

Samples ``N`` class-balanced images from a run's generator (its EMA when the run has one;
``--raw`` for the trained G) or from an exported SavedModel (``--model``, through its own
signatures), z untruncated or truncated (``--truncation``), and computes the Inception Score, FID
and intra-FID of SAGAN section 5, KID, precision/recall and density/coverage against the real
images of the run's dataset (their Gaussian statistics are cached and reused) or FID against a
statistics file (``--reference-stats PATH.npz``, mu and sigma). Features come from Keras'
Inception-v3 (``--inception-weights PATH`` without network), from the 2015 Inception graph of
published tables (``--inception-graph [PATH]``), resized as TF or as clean-fid does (``--resize``),
or, for domain metrics, from any Keras model (``--feature-model PATH``, e.g. made by
``sagan-train-feature-model``).
Prints one JSON object on stdout (everything else goes to stderr), with the ``protocol`` its numbers
depend on; ``--out FILE`` also writes it. A run keeps it in ``RUN/evaluations/`` for the model card
of its export; an export keeps it in ``VERSION/evaluations/`` and adds it to its ``MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

from sagan_tf import files
from sagan_tf.cli.arguments import add_run_source, parser, positive, run_directory
from sagan_tf.errors import SaganError, exits_cleanly

# statistics.METRICS, named here for --help without TensorFlow
METRIC_NAMES = ("is", "fid", "intra_fid", "kid", "precision", "recall", "density", "coverage")
NEEDS_IMAGES = ("intra_fid", "kid", "precision", "recall", "density", "coverage")  # not a mu/sigma file
RESIZE_MODES = ("tf", "clean")  # evaluation.metrics.resize.RESIZE_MODES
DOWNLOAD = "download"  # --inception-graph without a path: the cached, checked download


def parse_metrics(text: str, num_classes: int) -> list[str]:
    from sagan_tf.evaluation.metrics.statistics import METRICS

    names = list(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise SaganError(f"--metrics must be a comma-separated subset of {','.join(METRICS)}, got {text!r}")
    if "intra_fid" in names and num_classes == 0:
        raise SaganError("intra_fid needs a class-conditional run (data.num_classes > 0)")
    return names


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each flag's default once: argparse's "(default: X)" is added unless the help
    already says what the default is ("(default: eval.split, else data.split)", "latest (default)");
    for those flags X would only be None, the value that is resolved later."""

    def _get_help_string(self, action):
        if re.search(r"\(default\b", action.help or ""):
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None):
    p = parser("evaluate", __doc__)
    p.formatter_class = HelpFormatter
    source = add_run_source(p)
    source.add_argument("--model", metavar="EXPORT_DIR",
                        help="an exported SavedModel instead of a run: sagan-export's --out (newest version) or a version directory")
    p.add_argument("--version", type=int, help="with --model: the export version (default: the newest)")
    p.add_argument("--config", help="with --model: config (name or YAML) whose data and eval sections give the real "
                                    "images (default: the config of the run the export came from, when it is here)")
    p.add_argument("--num-samples", type=int, default=50000, help="generated images (paper: 50000)")
    p.add_argument("--truncation", type=float,
                   help="z truncated to [-t, t] (truncation trick), image i from generate_truncated's seed "
                        "SEED * 2**32 + i (default: z ~ N(0, I) untruncated)")
    p.add_argument("--metrics", default="is,fid", help=f"comma-separated subset of {', '.join(METRIC_NAMES)}")
    p.add_argument("--k-pr", type=int, default=3, help="k of the k-NN radii of precision and recall (Kynkaanniemi et al.)")
    p.add_argument("--k-dc", type=int, default=5, help="k of the k-NN radii of density and coverage (Naeem et al.)")
    p.add_argument("--kid-subset-size", type=int, default=1000, help="KID: samples per subset (of each set)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID: subsets its mean and std are taken over")
    p.add_argument("--feature-model", help="Keras model file for domain metrics (default: Inception-v3)")
    p.add_argument("--inception-weights", help="InceptionV3 weights file (default: Keras' ImageNet download)")
    p.add_argument("--inception-graph", nargs="?", const=DOWNLOAD, metavar="PATH",
                   help="the 2015 Inception graph of published IS/FID tables: classify_image_graph_def.pb or "
                        "inception-2015-12-05.tgz; without PATH it is downloaded once into the cache and checked "
                        "against its published SHA-256")
    p.add_argument("--inception-graph-sha256", metavar="HEX", help="refuse the --inception-graph file unless its SHA-256 is this")
    p.add_argument("--resize", choices=RESIZE_MODES, default="tf",
                   help="how images reach Inception's 299x299: tf (bilinear, as TTUR and TF-GAN) or clean "
                        "(clean-fid: uint8, then PIL bicubic per channel)")
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


def check_source_arguments(args) -> None:
    """The flags that only one kind of source takes."""
    if args.model:
        for flag, given in (("--raw", args.raw), ("--checkpoint", args.checkpoint)):
            if given:
                raise SaganError(f"{flag} is for runs: an export holds the one generator it was written with")
    else:
        for flag, given in (("--version", args.version is not None), ("--config", args.config)):
            if given:
                raise SaganError(f"{flag} goes with --model EXPORT_DIR")
    if args.truncation is not None and not args.truncation > 0:
        raise SaganError(f"--truncation must be > 0, got {args.truncation}")


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


@dataclasses.dataclass
class Source:
    """What the images come from: the config (data and eval sections), the sampler, the generator's
    name, checkpoint and step, its ``protocol`` description, and where the result is kept (None:
    nowhere, a shipped generator)."""

    cfg: object
    sampler: object
    name: str
    checkpoint: str | None
    step: int | None
    description: dict
    keep_in: Path | None
    export: Path | None = None


def export_config(args):
    """(version directory, manifest, config) of ``--model``; the config is ``--config`` or that of
    the run the export came from, and must fit the exported generator."""
    from sagan_tf import config as config_lib
    from sagan_tf.runs.run_dir import CONFIG_FILE, load_run_config
    from sagan_tf.serving.export import MANIFEST
    from sagan_tf.serving.sources import version_directory

    version_dir = version_directory(args.model, args.version)
    try:
        manifest = json.loads((version_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        raise SaganError(f"{version_dir} has no readable {MANIFEST}: not a version written by sagan-export") from None
    logdir = (manifest.get("source") or {}).get("logdir")
    if args.config:
        cfg = config_lib.load(args.config)
    elif logdir and (Path(logdir) / CONFIG_FILE).is_file():
        cfg = load_run_config(logdir)
    else:
        raise SaganError(f"--model: the run the export came from ({logdir}) is not here to say which data the real "
                         "images are; pass --config (that run's config.yaml, or a config with the same data section)")
    model, data = manifest.get("model") or {}, cfg.data
    exported = (model.get("resolution"), model.get("channels"), model.get("num_classes"))
    if exported != (data.resolution, data.channels, data.num_classes):
        raise SaganError(f"the config's data ({data.resolution} px, {data.channels} channel(s), {data.num_classes} "
                         f"classes) does not fit the export ({exported[0]} px, {exported[1]} channel(s), {exported[2]} classes)")
    return version_dir, manifest, cfg


def export_source(args, version_dir: Path, manifest: dict, cfg) -> Source:
    """The images of the exported SavedModel's signatures: ``serving_default`` for untruncated z,
    ``generate_truncated`` with ``--truncation``."""
    import tensorflow as tf

    from sagan_tf.evaluation.metrics.protocol import generator_description
    from sagan_tf.evaluation.samplers import LatentSampler, SeedSampler
    from sagan_tf.runs.run_dir import checkpoint_step
    from sagan_tf.serving.signatures import GENERATE_TRUNCATED, SERVING_DEFAULT

    try:
        loaded = tf.saved_model.load(str(version_dir))
    except (OSError, ValueError, tf.errors.OpError) as e:
        raise SaganError(f"cannot load the SavedModel in {version_dir}: {str(e).splitlines()[0][:200]}") from None
    wanted = SERVING_DEFAULT if args.truncation is None else GENERATE_TRUNCATED
    if wanted not in loaded.signatures:
        raise SaganError(f"{version_dir} has no {wanted} signature (exported by an earlier sagan-export)")
    signature = loaded.signatures[wanted]
    if args.truncation is None:
        sampler = LatentSampler(lambda z, y: signature(z=z, labels=y)["images_float"], manifest["model"]["z_dim"], args.seed)
    else:
        sampler = SeedSampler(lambda s, y, t: signature(seed=s, labels=y, truncation=t)["images_float"],
                              args.truncation, args.seed)
    sampler.loaded = loaded  # keeps the SavedModel's variables alive with its signature
    source = manifest.get("source") or {}
    name, checkpoint = source.get("generator", "generator"), source.get("checkpoint")
    step = checkpoint_step(checkpoint) if checkpoint else None
    export = {"path": str(version_dir.resolve()), "version": manifest.get("version")}
    description = generator_description(name, source.get("logdir") or version_dir, checkpoint, step,
                                        truncation=args.truncation, export=export)
    return Source(cfg, sampler, name, checkpoint, step, description, version_dir, version_dir)


def run_source(args, cfg) -> Source:
    """The images of the run's Keras generator (z as ``samplers`` draws it; truncated z through the
    export's ``generate_truncated`` function traced around it)."""
    from sagan_tf.evaluation.metrics.protocol import generator_description
    from sagan_tf.evaluation.samplers import SeedSampler, keras_sampler
    from sagan_tf.runs.run_dir import checkpoint_step, load_generator, resolve_checkpoint

    checkpoint = resolve_checkpoint(args.logdir, args.checkpoint)
    generator, cfg = load_generator(args.logdir, ema=not args.raw, checkpoint=checkpoint)
    if args.truncation is None:
        sampler = keras_sampler(generator, args.seed)
    else:
        import tensorflow as tf

        from sagan_tf.serving.signatures import GENERATE_TRUNCATED, ServingGraph

        graph = ServingGraph(generator, cfg.data.num_classes, cfg.model.z_dim)
        function = tf.function(graph.generate_truncated).get_concrete_function(
            *graph.input_signatures()[GENERATE_TRUNCATED])
        sampler = SeedSampler(lambda s, y, t: function(s, y, t)["images_float"], args.truncation, args.seed)
    step = checkpoint_step(checkpoint)
    description = generator_description(generator.name, args.logdir, checkpoint, step, args.pretrained, args.truncation)
    return Source(cfg, sampler, generator.name, checkpoint, step, description, None if args.pretrained else Path(args.logdir))


def load_feature_extractor(args, ev):
    """The feature network the flags (else the config's ``eval`` section) name."""
    from sagan_tf.evaluation.metrics.feature_model import load_extractor

    graph = args.inception_graph
    if graph == DOWNLOAD and not Path(graph).exists():
        from sagan_tf.evaluation.metrics.inception_download import cached_graph

        graph = str(cached_graph())
    chosen_here = graph or args.inception_weights  # the flags win over the config's eval section
    feature_model = args.feature_model or (None if chosen_here else ev.feature_model)
    weights = args.inception_weights or (None if graph else ev.inception_weights)
    return load_extractor(feature_model, weights, graph, args.inception_graph_sha256, args.resize)


def evaluate(args) -> tuple[dict, Source]:
    """The result (the printed JSON) and where its images came from."""
    from sagan_tf.evaluation.metrics.inception import file_digest
    from sagan_tf.evaluation.metrics.protocol import dataset_reference, evaluation_protocol, file_reference
    from sagan_tf.evaluation.metrics.reference_file import load_reference_stats, save_reference_stats
    from sagan_tf.evaluation.metrics.statistics import (
        FEATURE_SET_METRICS,
        FeatureSetOptions,
        Statistics,
        compute_metrics,
        generated_statistics,
        reference_statistics,
    )
    from sagan_tf.runs.run_dir import load_run_config

    check_source_arguments(args)
    if args.model:
        version_dir, manifest, cfg = export_config(args)
    else:
        cfg = load_run_config(args.logdir)
    ev = cfg.eval
    metrics = parse_metrics(args.metrics, cfg.data.num_classes)
    check_arguments(args, metrics, cfg.data.num_classes)
    source = export_source(args, version_dir, manifest, cfg) if args.model else run_source(args, cfg)
    cfg = source.cfg
    extractor = load_feature_extractor(args, ev)
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
        None, extractor, args.num_samples, cfg.data.num_classes, per_class, batch, args.seed, keep_features=keep,
        sampler=source.sampler,
    )
    options = FeatureSetOptions(args.k_pr, args.k_dc, args.kid_subset_size, args.kid_subsets, args.seed)
    num_reference = (real.overall.count or None) if real is not None else None
    result = {
        "logdir": None if args.model else str(args.logdir),
        "model": str(source.export) if source.export else None,
        "checkpoint": source.checkpoint,
        "step": source.step,
        "generator": source.name,
        "features": extractor.identity,
        "num_samples": args.num_samples,
        "real_split": split if real is not None else None,
        "num_real": num_reference,
        "seed": args.seed,
        "metrics": metrics,
        "protocol": evaluation_protocol(
            feature_network=extractor.describe((cfg.data.resolution, cfg.data.resolution)),
            generator=source.description,
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
    return result, source


def keep_result(result: dict, directory: Path, export: bool) -> None:
    """Keeps ``result`` in ``directory/evaluations/``; for an export also refreshes its model card's
    metrics measured on the export. Failing to write is a warning, not an error."""
    from sagan_tf.runs.run_dir import read_evaluations, save_evaluation

    try:
        save_evaluation(directory, result)
        if export:
            from sagan_tf.serving.model_card import CARD_FILE, with_export_metrics

            card = directory / CARD_FILE
            if card.is_file():
                files.write_text(card, with_export_metrics(card.read_text(), read_evaluations(directory)))
    except OSError as e:
        where = "export" if export else "run"
        print(f"warning: the result is not kept in the {where} ({e.strerror or e}); model cards will not show it",
              file=sys.stderr)


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_directory(args)
    result, source = evaluate(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        files.write_text(args.out, text + "\n")
    if source.keep_in:  # not the package's own files (--pretrained)
        keep_result(result, source.keep_in, export=source.export is not None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
