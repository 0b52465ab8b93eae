"""Feature statistics of real data (cached on disk) and of a generator's samples, and the metrics.

Reference statistics depend on the dataset, split, image preparation and feature model, and are
expensive (a pass of Inception over the split), so they are cached in one ``.npz`` per key
(``reference_key``) under ``cache_dir`` (default ``~/.cache/sagan_tf/fid_stats``) and reused.

KID, precision/recall and density/coverage compare the feature vectors themselves, not their
Gaussian: with ``keep_features`` the features are also kept (float32, one row per image, so
``num_samples`` or ``num_real`` rows), and the reference pass then reads the images even when
their Gaussian statistics are cached.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from sagan_tf.config import DataConfig
from sagan_tf.evaluation.metrics.fid import ClassStatsAccumulator, GaussianStats, frechet_distance, intra_fid
from sagan_tf.evaluation.metrics.inception_score import inception_score
from sagan_tf.evaluation.metrics.kernel_distance import kid
from sagan_tf.evaluation.metrics.manifold import MANIFOLD_METRICS, manifold_metrics
from sagan_tf.evaluation.metrics.per_class import class_metrics, class_report
from sagan_tf.files import atomic_path

FEATURE_SET_METRICS = ("kid", *MANIFOLD_METRICS)  # need the feature vectors of both sets
METRICS = ("is", "fid", "intra_fid", *FEATURE_SET_METRICS)


@dataclasses.dataclass
class Statistics:
    """Overall feature Gaussian, one per class (may be empty), the logits (generated only) and the
    feature vectors (float32, when kept) with their labels."""

    overall: GaussianStats
    classes: dict[int, GaussianStats]
    logits: np.ndarray | None = None
    features: np.ndarray | None = None
    labels: np.ndarray | None = None  # the class of each kept feature row (conditional sets)


@dataclasses.dataclass
class FeatureSetOptions:
    """Settings of the metrics of feature sets: k of the k-NN radii of precision/recall
    (Kynkaanniemi et al. 2019: 3) and of density/coverage (Naeem et al. 2020: 5), KID's subsets
    (clean-fid's and torch-fidelity's defaults: 100 subsets of 1000) and their seed."""

    k_pr: int = 3
    k_dc: int = 5
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    seed: int = 0


class FeatureCollector:
    """Batches of features, kept as float32 rows with their labels: all of them (``keep`` True), the
    first ``keep`` (an int), or none (``keep`` false)."""

    def __init__(self, keep: bool | int):
        self.keep, self.parts, self.label_parts, self.count = bool(keep), [], [], 0
        self.limit = None if isinstance(keep, bool) else int(keep)

    def add(self, features, labels=None) -> None:
        if self.keep and (self.limit is None or self.count < self.limit):
            end = None if self.limit is None else self.limit - self.count
            rows = np.asarray(features, np.float32)[:end]
            self.parts.append(rows)
            if labels is not None:
                self.label_parts.append(np.asarray(labels).reshape(-1)[:end].astype(np.int64))
            self.count += len(rows)

    def result(self) -> np.ndarray | None:
        return np.concatenate(self.parts) if self.keep and self.parts else None

    def labels(self) -> np.ndarray | None:
        """The labels of ``result()``'s rows, when every batch came with them."""
        if not (self.keep and self.parts) or len(self.label_parts) != len(self.parts):
            return None
        return np.concatenate(self.label_parts)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sagan_tf" / "fid_stats"


def reference_key(data: DataConfig, split: str, num_real: int, extractor_identity: str) -> str:
    """Everything the reference statistics depend on, as one readable string."""
    return (
        f"{data.dataset()}|split={split}|n={num_real or 'all'}|res={data.resolution}|ch={data.channels}"
        f"|resize={data.resize}|crop={data.center_crop}|features={extractor_identity}"
    )


def cache_path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"


def save_statistics(path: Path, stats: Statistics, key: str) -> None:
    """Writes ``stats`` atomically (temp file + rename)."""
    ids = np.array(sorted(stats.classes), dtype=np.int64)
    arrays = dict(
        key=np.array(key),
        mu=stats.overall.mu,
        sigma=stats.overall.sigma,
        count=np.array(stats.overall.count),
        class_ids=ids,
        class_mu=np.stack([stats.classes[c].mu for c in ids]) if len(ids) else np.zeros((0,)),
        class_sigma=np.stack([stats.classes[c].sigma for c in ids]) if len(ids) else np.zeros((0,)),
        class_count=np.array([stats.classes[c].count for c in ids], dtype=np.int64),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_statistics(path: Path, key: str) -> Statistics | None:
    """The cached statistics for ``key``, or None (no file, another key, unreadable file)."""
    try:
        with np.load(path) as f:
            if str(f["key"]) != key:
                return None
            overall = GaussianStats(f["mu"], f["sigma"], int(f["count"]))
            classes = {
                int(c): GaussianStats(f["class_mu"][i], f["class_sigma"][i], int(f["class_count"][i]))
                for i, c in enumerate(f["class_ids"])
            }
    except (OSError, KeyError, ValueError):
        return None
    return Statistics(overall, classes)


def real_images(data: DataConfig, split: str, num_real: int, batch_size: int, data_dir: str | None):
    """Batches of ``(images in [-1, 1], labels)`` of ``split``, prepared exactly as for training."""
    from sagan_tf.data.pipeline import load_source, preprocess
    from sagan_tf.data.pixels import to_model_range

    cfg = dataclasses.replace(data, split=split)
    ds = load_source(cfg, data_dir, seed=0).dataset
    if num_real:
        ds = ds.take(num_real)
    ds = ds.map(lambda x, y: (to_model_range(preprocess(x, cfg)), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def reference_statistics(
    data: DataConfig,
    extractor,
    split: str,
    num_real: int = 0,
    per_class: bool = True,
    batch_size: int = 100,
    data_dir: str | None = None,
    cache_dir: str | Path | None = None,
    keep_features: bool | int = False,
) -> Statistics:
    """Statistics of the real images, from the cache when it holds them (with classes if needed);
    ``keep_features``: also the feature vectors of all of them (True) or of the first n (an int
    n), which are read again when the statistics are cached."""
    key = reference_key(data, split, num_real, extractor.identity)
    path = cache_path(cache_dir or default_cache_dir(), key)
    per_class = per_class and data.num_classes > 0
    cached = load_statistics(path, key)
    if cached is not None and (cached.classes or not per_class):
        if not keep_features:
            return cached
        if not isinstance(keep_features, bool):  # only the first n images are needed
            kept = FeatureCollector(keep_features)
            for images, labels in real_images(data, split, min(num_real or keep_features, keep_features), batch_size, data_dir):
                kept.add(extractor(images)[0], labels.numpy())
            return Statistics(cached.overall, cached.classes, features=kept.result(), labels=kept.labels())
    acc, kept = ClassStatsAccumulator(per_class), FeatureCollector(keep_features)
    for images, labels in real_images(data, split, num_real, batch_size, data_dir):
        features, _ = extractor(images)
        acc.add(features, labels.numpy())
        kept.add(features, labels.numpy())
    stats = Statistics(*acc.result(), features=kept.result(), labels=kept.labels())
    try:
        save_statistics(path, stats, key)
    except OSError as e:  # a read-only cache is not fatal
        print(f"warning: cannot cache reference statistics in {path}: {e}", file=sys.stderr)
    return stats


def balanced_labels(num_samples: int, num_classes: int) -> np.ndarray:
    """0, 1, ..., k-1, 0, 1, ...: every class gets num_samples / k samples (+1 for the first ones)."""
    return (np.arange(num_samples) % max(num_classes, 1)).astype(np.int32)


def generated_statistics(
    generator,
    extractor,
    num_samples: int,
    num_classes: int,
    per_class: bool = True,
    batch_size: int = 100,
    seed: int = 0,
    keep_features: bool = False,
    sampler=None,
) -> Statistics:
    """Statistics of ``num_samples`` images of ``generator`` (inference mode; z as
    ``samplers.LatentSampler`` draws it with ``seed``), or of ``sampler`` when given (a
    ``samplers`` object; ``generator`` is then unused), class-balanced labels; their features too
    with ``keep_features``."""
    from sagan_tf.evaluation.samplers import keras_sampler

    sampler = sampler or keras_sampler(generator, seed)
    labels_all = balanced_labels(num_samples, num_classes)
    acc, kept = ClassStatsAccumulator(per_class and num_classes > 0), FeatureCollector(keep_features)
    logits = []
    for start in range(0, num_samples, batch_size):
        labels = labels_all[start : start + batch_size]
        features, batch_logits = extractor(sampler(start, labels))
        acc.add(features, labels)
        kept.add(features, labels if num_classes > 0 else None)
        if batch_logits is not None:
            logits.append(batch_logits)
    overall, classes = acc.result()
    return Statistics(overall, classes, np.concatenate(logits) if logits else None, kept.result(), kept.labels())


def compute_metrics(
    metrics,
    generated: Statistics,
    real: Statistics | None,
    is_splits: int = 10,
    options: FeatureSetOptions | None = None,
    per_class: bool = True,
    class_names=None,
) -> dict:
    """``{"is": .., "is_std": .., "fid": .., "intra_fid": .., "intra_fid_per_class": {..}, "kid": ..,
    "kid_std": .., "precision": .., "recall": .., "density": .., "coverage": ..}`` for the names in
    ``metrics``; the feature-set metrics need ``features`` on both sides (``options``: their k,
    KID subsets and seed). With ``per_class`` and class-conditional sets, also ``per_class``,
    ``weakest_classes`` and ``per_class_criterion`` (``per_class.class_report``: the intra-FID and
    the manifold metrics of ``metrics``, each class against its own real images; intra-FID needs
    class Gaussians on both sides, the others labelled features; ``class_names`` name the classes)."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r} (known: {', '.join(METRICS)})")
    options = options or FeatureSetOptions()
    wanted = [m for m in metrics if m in FEATURE_SET_METRICS]
    if wanted and (generated.features is None or real is None or real.features is None):
        raise ValueError(f"{', '.join(wanted)} need the feature vectors of both sets (keep_features)")
    out: dict = {}
    for name in metrics:
        if name == "is":
            if generated.logits is None:
                raise ValueError("the feature model has no logits (no layer named 'features'): IS is undefined")
            out["is"], out["is_std"] = inception_score(generated.logits, min(is_splits, len(generated.logits)))
        elif name == "fid":
            out["fid"] = frechet_distance(generated.overall, real.overall)
        elif name == "intra_fid":
            mean, per_class = intra_fid(generated.classes, real.classes)
            out["intra_fid"], out["intra_fid_per_class"] = mean, {str(c): v for c, v in per_class.items()}
        elif name == "kid":
            out["kid"], out["kid_std"] = kid(
                real.features, generated.features, options.kid_subset_size, options.kid_subsets, options.seed
            )
        elif name not in out:  # precision, recall, density, coverage: one pass over the pairs for all
            manifold = [m for m in metrics if m in MANIFOLD_METRICS]
            out.update(manifold_metrics(real.features, generated.features, manifold, options.k_pr, options.k_dc))
    if per_class and real is not None:
        out.update(per_class_report(metrics, generated, real, options, class_names))
    return out


def per_class_report(metrics, generated: Statistics, real: Statistics, options: FeatureSetOptions, class_names=None) -> dict:
    """``per_class.class_report`` of the per-class metrics both sets allow ({} when none do)."""
    names = []
    if "intra_fid" in metrics and generated.classes and real.classes:
        names.append("intra_fid")
    if generated.labels is not None and real.labels is not None:
        names += [m for m in MANIFOLD_METRICS if m in metrics]
    if not names:
        return {}
    values = class_metrics(names, generated.classes, real.classes, generated.features, generated.labels,
                           real.features, real.labels, options.k_pr, options.k_dc)
    return class_report(values, class_names)
