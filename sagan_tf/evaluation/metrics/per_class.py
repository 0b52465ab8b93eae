"""Diversity class by class: intra-FID and precision/recall/density/coverage within each class, and
the weakest classes.

Whole-set FID and IS average over the classes, so a conditional generator that draws one plain
bag for every "bag" loses little in them. Within class c the same metrics compare the generated
images of class c with the real images of class c, in the same feature space and with the same k
as the whole-set numbers:

* intra-FID of class c: the Frechet distance of the two class-c Gaussians (Miyato & Koyama 2018;
  SAGAN section 5 reports its mean over classes);
* precision, recall, density, coverage of class c: ``manifold.manifold_metrics`` on the class-c
  features only (Kynkaanniemi et al. 2019; Naeem et al. 2020). Recall and coverage fall when a
  class collapses: its generated samples cover few of the real class's k-NN balls.

A class is judged against the median class, so the judgement does not depend on the feature
space's scale: a class is **below the criterion** when its recall is under ``RECALL_SHARE`` (0.5)
times the median class's recall, or its intra-FID over ``INTRA_FID_FACTOR`` (2) times the median
class's. The weakest classes are ranked by ``score`` = the smaller of recall / median recall and
median intra-FID / intra-FID (1 for a median class, lower is weaker).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sagan_tf.evaluation.metrics.fid import GaussianStats, frechet_distance
from sagan_tf.evaluation.metrics.manifold import MANIFOLD_METRICS, manifold_metrics

PER_CLASS_METRICS = ("intra_fid", *MANIFOLD_METRICS)
RECALL_SHARE = 0.5  # below the criterion: recall < RECALL_SHARE x the median class's recall
INTRA_FID_FACTOR = 2.0  # below the criterion: intra-FID > INTRA_FID_FACTOR x the median class's
WEAKEST_SHOWN = 3  # classes named in "weakest_classes" besides every class below the criterion


def class_metrics(
    metrics: Sequence[str],
    generated_classes: Mapping[int, GaussianStats],
    real_classes: Mapping[int, GaussianStats],
    generated_features: np.ndarray | None = None,
    generated_labels: np.ndarray | None = None,
    real_features: np.ndarray | None = None,
    real_labels: np.ndarray | None = None,
    k_pr: int = 3,
    k_dc: int = 5,
) -> dict[int, dict[str, float]]:
    """``{class: {metric: value}}`` for the names of ``metrics`` that are per-class metrics.

    Intra-FID uses the class Gaussians; the manifold metrics the feature rows of each class (rows of
    ``*_features`` whose ``*_labels`` is the class). Every class of the generated side must have
    real images: a class without them is a ValueError naming it (a skipped class would flatter the
    report)."""
    names = [m for m in PER_CLASS_METRICS if m in metrics]
    manifold = [m for m in names if m in MANIFOLD_METRICS]
    if manifold and any(x is None for x in (generated_features, generated_labels, real_features, real_labels)):
        raise ValueError(f"per-class {', '.join(manifold)} need the feature vectors and labels of both sets")
    classes = sorted(generated_classes) if "intra_fid" in names else sorted(set(np.unique(generated_labels).tolist()))
    out: dict[int, dict[str, float]] = {}
    for c in classes:
        values: dict[str, float] = {}
        if "intra_fid" in names:
            if c not in real_classes:
                raise ValueError(f"class {c} has generated images but no real ones: its intra-FID is undefined")
            values["intra_fid"] = frechet_distance(generated_classes[c], real_classes[c])
        if manifold:
            real_c = real_features[np.asarray(real_labels) == c]
            fake_c = generated_features[np.asarray(generated_labels) == c]
            try:
                values.update(manifold_metrics(real_c, fake_c, manifold, k_pr, k_dc))
            except ValueError as e:
                raise ValueError(f"class {c}: {e}") from None
        out[int(c)] = values
    return out


def median_ratios(per_class: Mapping[int, Mapping[str, float]]) -> dict[int, dict[str, float]]:
    """``{class: {"recall_vs_median": .., "intra_fid_vs_median": ..}}`` for the metrics present
    (a median of 0 gives no ratio)."""
    out: dict[int, dict[str, float]] = {c: {} for c in per_class}
    for name in ("recall", "intra_fid"):
        values = {c: v[name] for c, v in per_class.items() if name in v}
        if not values:
            continue
        median = float(np.median(list(values.values())))
        if median <= 0:
            continue
        for c, value in values.items():
            out[c][f"{name}_vs_median"] = value / median
    return out


def below_criterion(ratios: Mapping[str, float]) -> bool:
    """Whether a class with these median ratios fails the criterion of the module docstring."""
    return ratios.get("recall_vs_median", np.inf) < RECALL_SHARE or ratios.get("intra_fid_vs_median", 0.0) > INTRA_FID_FACTOR


def score(ratios: Mapping[str, float]) -> float:
    """The smaller of recall / median and median / intra-FID (inf: neither measured; 0 for an
    intra-FID ratio of inf)."""
    parts = []
    if "recall_vs_median" in ratios:
        parts.append(ratios["recall_vs_median"])
    if "intra_fid_vs_median" in ratios:
        r = ratios["intra_fid_vs_median"]
        parts.append(np.inf if r == 0 else 1.0 / r)
    return float(min(parts)) if parts else float("inf")


def class_report(
    per_class: Mapping[int, Mapping[str, float]], class_names: Sequence[str] | None = None, shown: int = WEAKEST_SHOWN
) -> dict:
    """The result's ``per_class`` (each class's values, name and median ratios), ``weakest_classes``
    (every class below the criterion and at least the ``shown`` lowest scores, weakest first) and
    ``per_class_criterion`` (the thresholds and the classes that fail them)."""
    ratios = median_ratios(per_class)

    def name(c: int) -> str | None:
        return class_names[c] if class_names is not None and 0 <= c < len(class_names) else None

    table = {str(c): {"name": name(c), **dict(values), **ratios[c]} for c, values in sorted(per_class.items())}
    ranked = sorted(per_class, key=lambda c: (score(ratios[c]), c))
    failing = [c for c in ranked if below_criterion(ratios[c])]
    weakest = ranked[: max(shown, len(failing))] if any(ratios[c] for c in ranked) else []
    return {
        "per_class": table,
        "weakest_classes": [
            {"class": c, "name": name(c), "score": score(ratios[c]), "below_criterion": below_criterion(ratios[c]),
             **{k: v for k, v in per_class[c].items() if k in ("recall", "intra_fid")}, **ratios[c]}
            for c in weakest
        ],
        "per_class_criterion": {
            "recall_vs_median_at_least": RECALL_SHARE,
            "intra_fid_vs_median_at_most": INTRA_FID_FACTOR,
            "classes_below": sorted(failing),
        },
    }


def format_table(report: Mapping) -> list[str]:
    """The per-class table as text lines (what ``sagan-evaluate`` prints on stderr)."""
    rows = report["per_class"]
    if not rows:
        return []
    columns = [m for m in PER_CLASS_METRICS if any(m in r for r in rows.values())]
    width = max(len(str(r["name"] or c)) for c, r in rows.items())
    lines = [f"{'class':<{width}}  " + "  ".join(f"{m:>9}" for m in columns) + "  below criterion"]
    failing = set(report["per_class_criterion"]["classes_below"])
    for c, r in rows.items():
        cells = "  ".join(f"{r[m]:>9.4f}" for m in columns)
        lines.append(f"{str(r['name'] or c):<{width}}  {cells}  {'yes' if int(c) in failing else ''}")
    return lines


def class_scalars(report: Mapping) -> dict[str, float]:
    """TensorBoard scalars of a ``class_report``: ``per_class/METRIC/C_NAME`` for every class and
    metric, ``weakest_class/recall_vs_median`` (the lowest), ``weakest_class/intra_fid_vs_median``
    (the highest), ``weakest_class/score`` (the lowest) and ``weakest_class/classes_below`` (how
    many classes fail the criterion). {} for a report without classes."""
    rows = report.get("per_class") or {}
    out: dict[str, float] = {}
    for c, row in rows.items():
        tag = scalar_tag(c, row.get("name"))
        for metric in PER_CLASS_METRICS:
            if metric in row:
                out[f"per_class/{metric}/{tag}"] = float(row[metric])
    for key, pick in (("recall_vs_median", min), ("intra_fid_vs_median", max)):
        ratios = [row[key] for row in rows.values() if key in row]
        if ratios:
            out[f"weakest_class/{key}"] = float(pick(ratios))
    weakest = report.get("weakest_classes") or []
    if weakest:
        out["weakest_class/score"] = float(weakest[0]["score"])
    if rows:
        out["weakest_class/classes_below"] = float(len(report["per_class_criterion"]["classes_below"]))
    return out


def scalar_tag(c, name: str | None) -> str:
    """``8_Bag``: the class index and its name, with characters TensorBoard tags do not keep
    (spaces, slashes) as ``_``."""
    text = f"{c}_{name}" if name else str(c)
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)
