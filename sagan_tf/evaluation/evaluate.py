"""Measure a generator: ``evaluate(source, ...)`` -> the JSON object ``sagan-evaluate`` prints.

The source is a run, an export or a shipped generator (``sagan_tf.serving.sources``). ``num_samples``
class-balanced images are drawn from it (``image_sources``), z untruncated or truncated, and the
Inception Score, FID and intra-FID of SAGAN section 5, KID, precision/recall and density/coverage
are computed against the real images of the run's dataset (their Gaussian statistics are cached and
reused) or FID against a statistics file (``reference_stats``, mu and sigma). Features come from
Keras' Inception-v3, from the 2015 Inception graph of published tables (``inception_graph``,
resized as TF or as clean-fid does: ``resize``), or, for domain metrics, from any Keras model
(``feature_model``, e.g. made by ``feature_classifier.train_feature_model``). The result holds the
``protocol`` its numbers depend on; a run keeps it in ``RUN/evaluations/`` for the model card of
its export, an export in ``VERSION/evaluations/`` and in its ``MODEL_CARD.md``.

For a class-conditional generator, intra-FID and precision/recall/density/coverage are also
measured class by class, each class against its own real images, and the weakest classes are named
(``metrics.per_class``): the result's ``per_class``, ``weakest_classes`` and ``per_class_criterion``.

Every user error that can be told before an image is generated is one ``SaganError`` line, worded
with the ``sagan-evaluate`` flags. Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from sagan_tf import files
from sagan_tf.config import Config
from sagan_tf.errors import SaganError, positive
from sagan_tf.evaluation.image_sources import ImageSource
from sagan_tf.serving.inputs import MIN_TRUNCATION
from sagan_tf.serving.sources import GeneratorSource, find

# statistics.METRICS, named here for sagan-evaluate --help without TensorFlow
METRIC_NAMES = ("is", "fid", "intra_fid", "kid", "precision", "recall", "density", "coverage")
NEEDS_IMAGES = ("intra_fid", "kid", "precision", "recall", "density", "coverage")  # not a mu/sigma file
RESIZE_MODES = ("tf", "clean")  # evaluation.metrics.resize.RESIZE_MODES
DOWNLOAD = "download"  # inception_graph: the cached, checked download of the 2015 graph


@dataclasses.dataclass
class EvaluationOptions:
    """What ``evaluate`` measures and how (the flags of ``sagan-evaluate`` beside the source)."""

    metrics: str | Sequence[str] = "is,fid"  # a comma-separated or listed subset of METRIC_NAMES
    num_samples: int = 50000  # generated images (paper: 50000)
    truncation: float | None = None  # z truncated to [-t, t]: image i from generate_truncated's seed SEED * 2**32 + i
    k_pr: int = 3  # k of the k-NN radii of precision and recall (Kynkaanniemi et al.)
    k_dc: int = 5  # k of the k-NN radii of density and coverage (Naeem et al.)
    kid_subset_size: int = 1000  # KID: samples per subset (of each set)
    kid_subsets: int = 100  # KID: subsets its mean and std are taken over
    feature_model: str | None = None  # a Keras model file for domain metrics (default: the config's eval, else Inception-v3)
    inception_weights: str | None = None  # an InceptionV3 weights file (default: Keras' ImageNet download)
    inception_graph: str | None = None  # the 2015 Inception graph file, or DOWNLOAD
    inception_graph_sha256: str | None = None  # refuse the inception_graph file unless its SHA-256 is this
    resize: str = "tf"  # how images reach Inception's 299x299: tf (bilinear) or clean (clean-fid)
    data_dir: str | None = None  # TFDS data directory
    split: str | None = None  # the real images' split (default: eval.split, else data.split)
    num_real: int | None = None  # real images for the reference statistics (default: eval.num_real; 0: all)
    stats_cache: str | None = None  # directory of cached reference statistics (default: eval.stats_cache)
    reference_stats: str | None = None  # FID against this .npz file's mu and sigma instead of the dataset
    save_reference_stats: str | None = None  # also write the dataset's reference mu and sigma to this .npz file
    batch_size: int | None = None  # images per forward pass (default: eval.batch_size)
    checkpoint: str | None = None  # a run's checkpoint: latest (default), best (lowest in-training FID) or a path
    raw: bool = False  # a run's trained G instead of its EMA
    seed: int = 0  # seed of the sampled z and of KID's subsets
    version: int | None = None  # an export's version (default: the newest)
    config: str | Path | Config | None = None  # an export's real images: this config's data and eval sections
    nearest: int = 0  # > 0: the memorisation check, picturing this many generated images beside their nearest training images
    nearest_samples: int = 1000  # generated (and held-out real) images the memorisation rate is measured on
    nearest_picture: str | None = None  # the check's PNG (default: nearest-STEP.png in the run's or export's evaluations/)


def parse_metrics(metrics: str | Sequence[str], num_classes: int) -> list[str]:
    """``"is,fid"`` (or a list) -> the metrics, each one of ``statistics.METRICS``."""
    from sagan_tf.evaluation.metrics.statistics import METRICS

    items = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = list(dict.fromkeys(m.strip() for m in items if m.strip()))
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise SaganError(f"--metrics must be a comma-separated subset of {','.join(METRICS)}, got {metrics!r}")
    if "intra_fid" in names and num_classes == 0:
        raise SaganError("intra_fid needs a class-conditional run (data.num_classes > 0)")
    return names


def check_source_options(options: EvaluationOptions, export: bool) -> None:
    """The options that only one kind of source takes."""
    if export:
        for flag, given in (("--raw", options.raw), ("--checkpoint", options.checkpoint)):
            if given:
                raise SaganError(f"{flag} is for runs: an export holds the one generator it was written with")
    else:
        for flag, given in (("--version", options.version is not None), ("--config", options.config)):
            if given:
                raise SaganError(f"{flag} goes with --model EXPORT_DIR")
    if options.truncation is not None and not options.truncation >= MIN_TRUNCATION:  # the explorer's bound
        raise SaganError(f"--truncation must be >= {MIN_TRUNCATION:g} (inf: no truncation), got {options.truncation:g}")
    if options.reference_stats and options.save_reference_stats:
        raise SaganError("--save-reference-stats is not allowed with --reference-stats (it writes the dataset's statistics)")


def check_options(options: EvaluationOptions, metrics: list[str], num_classes: int) -> None:
    """The user errors that can be told before any image is generated, as one line each."""
    positive("--num-samples", options.num_samples)
    positive("--batch-size", options.batch_size)
    for flag in ("--k-pr", "--k-dc", "--kid-subsets"):
        positive(flag, getattr(options, flag[2:].replace("-", "_")))
    if options.kid_subset_size < 2:
        raise SaganError(f"--kid-subset-size must be >= 2, got {options.kid_subset_size}")
    if options.num_real is not None and options.num_real < 0:
        raise SaganError(f"--num-real must be >= 0, got {options.num_real}")
    if "is" in metrics and options.num_samples < 2:
        raise SaganError("the Inception Score needs at least 2 samples")
    if "kid" in metrics and options.num_samples < 2:
        raise SaganError("KID needs at least 2 samples")
    if "recall" in metrics and options.num_samples <= options.k_pr:
        raise SaganError(f"recall needs --num-samples > --k-pr ({options.k_pr}): the k-NN radii of the generated set")
    if "intra_fid" in metrics and options.num_samples < 2 * num_classes:
        raise SaganError(f"intra_fid needs --num-samples >= 2 per class ({2 * num_classes})")
    per_class_knn = [m for m in metrics if m in ("precision", "recall", "density", "coverage")]
    least = max(options.k_pr, options.k_dc) + 1
    if num_classes > 0 and per_class_knn and options.num_samples < least * num_classes:
        raise SaganError(f"{', '.join(per_class_knn)} are also measured per class: they need --num-samples >= "
                         f"{least * num_classes} ({least} per class of {num_classes}, for the k-NN radii)")
    if options.nearest < 0 or (options.nearest and options.nearest_samples < max(options.nearest, 2)):
        raise SaganError(f"--nearest must be >= 0 and --nearest-samples >= --nearest (and 2), got {options.nearest} "
                         f"and {options.nearest_samples}")
    if options.reference_stats:
        needing = [m for m in metrics if m in NEEDS_IMAGES]
        if needing:
            raise SaganError(f"--reference-stats holds mu and sigma only (FID); {', '.join(needing)} need the real images")
        if "fid" not in metrics:
            raise SaganError("--reference-stats is for FID: add fid to --metrics")


def load_feature_extractor(options: EvaluationOptions, ev):
    """The feature network the options (else the config's ``eval`` section ``ev``) name."""
    from sagan_tf.evaluation.metrics.feature_model import load_extractor

    graph = options.inception_graph
    if graph == DOWNLOAD and not Path(graph).exists():
        from sagan_tf.evaluation.metrics.inception_download import cached_graph

        graph = str(cached_graph())
    chosen_here = graph or options.inception_weights  # the options win over the config's eval section
    feature_model = options.feature_model or (None if chosen_here else ev.feature_model)
    weights = options.inception_weights or (None if graph else ev.inception_weights)
    return load_extractor(feature_model, weights, graph, options.inception_graph_sha256, options.resize)


def evaluate(source: str | Path | GeneratorSource, *, keep: bool = True, **options) -> dict:
    """Measures the generator of ``source`` (a run directory, an export, ``"pretrained:NAME"``) with
    ``options`` (the fields of ``EvaluationOptions``: ``metrics="is,fid"``, ``num_samples=50000``,
    ``feature_model=PATH``, ...); returns the result ``sagan-evaluate`` prints and, with ``keep``,
    keeps it in the run or export (not in a shipped generator's files)."""
    result, images = measure(find(source), EvaluationOptions(**options))
    if keep and images.keep_in is not None:
        keep_result(result, images.keep_in, export=images.export is not None)
    return result


def measure(source: GeneratorSource, options: EvaluationOptions) -> tuple[dict, ImageSource]:
    """The result and where its images came from (``image_sources.ImageSource``)."""
    from sagan_tf.evaluation.image_sources import export_config, export_images, run_images
    from sagan_tf.evaluation.metrics.statistics import (
        FEATURE_SET_METRICS,
        FeatureSetOptions,
        compute_metrics,
        generated_statistics,
    )
    from sagan_tf.runs.run_dir import load_run_config
    from sagan_tf.serving.sources import version_directory

    export = source.kind == "export"
    check_source_options(options, export)
    if export:
        version_dir = version_directory(source.path, options.version)
        manifest, cfg = export_config(version_dir, options.config)
    else:
        cfg = load_run_config(source.path)
    metrics = parse_metrics(options.metrics, cfg.data.num_classes)
    check_options(options, metrics, cfg.data.num_classes)
    if export:
        images = export_images(version_dir, manifest, cfg, options.truncation, options.seed)
    else:
        images = run_images(source.path, source.pretrained, options.checkpoint, options.raw, options.truncation, options.seed)
    cfg = images.cfg
    picture = nearest_picture(options, images)
    extractor = load_feature_extractor(options, cfg.eval)
    if "is" in metrics and not extractor.has_logits:
        raise SaganError("--metrics is: the feature model has no logits (it needs a layer named 'features')")
    batch = options.batch_size or cfg.eval.batch_size
    per_class, keep_features = "intra_fid" in metrics, any(m in FEATURE_SET_METRICS for m in metrics)
    real, reference, split = real_statistics(options, cfg, metrics, extractor, batch, per_class, keep_features)
    generated = generated_statistics(
        None, extractor, options.num_samples, cfg.data.num_classes, per_class, batch, options.seed,
        keep_features=keep_features, sampler=images.sampler,
    )
    feature_sets = FeatureSetOptions(options.k_pr, options.k_dc, options.kid_subset_size, options.kid_subsets, options.seed)
    result = describe(source, options, images, extractor, metrics, real, reference, split, feature_sets)
    from sagan_tf.data.class_names import class_names

    names = class_names(cfg.data, options.data_dir) if cfg.data.num_classes > 0 else None
    try:
        result.update(compute_metrics(metrics, generated, real, cfg.eval.is_splits, feature_sets, class_names=names))
    except ValueError as e:
        raise SaganError(str(e)) from None
    if picture is not None:
        from sagan_tf.evaluation.memorisation import MemorisationOptions, check

        memo = MemorisationOptions(options.nearest, options.nearest_samples, picture, batch)
        # the held-out baseline: the evaluation's real split, else a TFDS dataset's test split
        heldout = options.split or cfg.eval.split or ("test" if cfg.data.source == "tfds" else None)
        result["memorisation"] = check(cfg, extractor, images.sampler, memo, heldout, options.data_dir)
    return result, images


def nearest_picture(options: EvaluationOptions, images: ImageSource) -> Path | None:
    """Where ``--nearest``'s picture goes (None: no check); checked before any image is made."""
    if not options.nearest:
        return None
    if options.nearest_picture:
        path = Path(options.nearest_picture)
    elif images.keep_in is not None:
        path = images.keep_in / "evaluations" / f"nearest-{images.step if images.step is not None else 'export'}.png"
    else:
        raise SaganError("--nearest with --pretrained needs --nearest-picture PATH.png (the shipped files are not written)")
    if path.is_dir():
        raise SaganError(f"--nearest-picture {path} is a directory: give a file name ending in .png")
    if path.suffix.lower() != ".png":
        raise SaganError(f"--nearest-picture {path} must end in .png")
    return path


def real_statistics(options: EvaluationOptions, cfg: Config, metrics: list[str], extractor, batch: int,
                    per_class: bool, keep_features: bool):
    """(statistics of the real images or None, the protocol's ``reference``, the split's name)."""
    from sagan_tf.evaluation.metrics.inception import file_digest
    from sagan_tf.evaluation.metrics.protocol import dataset_reference, file_reference
    from sagan_tf.evaluation.metrics.reference_file import load_reference_stats, save_reference_stats
    from sagan_tf.evaluation.metrics.statistics import Statistics, reference_statistics

    ev = cfg.eval
    split = options.split or ev.split or cfg.data.split
    num_real = ev.num_real if options.num_real is None else options.num_real
    if options.reference_stats:
        overall = load_reference_stats(options.reference_stats, extractor.dim)
        reference = file_reference(options.reference_stats, file_digest(options.reference_stats, 64))
        return Statistics(overall, {}), reference, Path(options.reference_stats).name
    if not (any(m in metrics for m in ("fid", *NEEDS_IMAGES)) or options.save_reference_stats):
        return None, None, split
    real = reference_statistics(cfg.data, extractor, split, num_real, per_class, batch, options.data_dir,
                                options.stats_cache or ev.stats_cache, keep_features=keep_features)
    if options.save_reference_stats:
        try:
            save_reference_stats(options.save_reference_stats, real.overall)
        except OSError as e:
            raise SaganError(f"cannot write --save-reference-stats {options.save_reference_stats}: {e.strerror or e}") from None
    return real, dataset_reference(cfg.data, split), split


def describe(source: GeneratorSource, options: EvaluationOptions, images: ImageSource, extractor, metrics: list[str], real,
             reference, split: str, feature_sets) -> dict:
    """The result's keys before its numbers: what was measured, against what, with which protocol."""
    from sagan_tf.evaluation.metrics.protocol import evaluation_protocol

    cfg = images.cfg
    num_reference = (real.overall.count or None) if real is not None else None
    return {
        "logdir": None if source.kind == "export" else str(source.path),
        "model": str(images.export) if images.export else None,
        "checkpoint": images.checkpoint,
        "step": images.step,
        "generator": images.name,
        "features": extractor.identity,
        "num_samples": options.num_samples,
        "real_split": split if real is not None else None,
        "num_real": num_reference,
        "seed": options.seed,
        "metrics": metrics,
        "protocol": evaluation_protocol(
            feature_network=extractor.describe((cfg.data.resolution, cfg.data.resolution)),
            generator=images.description,
            num_generated=options.num_samples,
            reference=reference,
            num_reference=num_reference,
            seed=options.seed,
            metrics=metrics,
            options=feature_sets,
        ),
    }


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
