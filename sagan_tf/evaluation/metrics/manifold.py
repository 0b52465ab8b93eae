"""Precision and recall (Kynkaanniemi et al. 2019) and density and coverage (Naeem et al. 2020).

Each set of features stands for a manifold: the union of the balls around its points whose radius
is the distance to the point's k-th nearest neighbour in the same set (the point itself excluded),
``NND_k``. With real features X_1..X_N and fake Y_1..Y_M:

* precision = (1/M) sum_j f(Y_j, X), recall = (1/N) sum_i f(X_i, Y), where f(y, X) = 1 when
  |y - X_i| <= NND_k(X_i) for some i (Kynkaanniemi et al. 2019, section 2: f is eq. 1, precision
  and recall eq. 2; default k = 3);
* density = 1/(kM) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]: how many real balls contain a fake
  sample, on average, divided by k (can exceed 1; its expectation is 1 when fake and real have one
  distribution);
* coverage = (1/N) sum_i 1[some Y_j in B(X_i, NND_k(X_i))]: the fraction of real balls that hold at
  least one fake sample (both: Naeem et al. 2020, section 3, "density and coverage"; default k = 5).

Balls are closed (a point at exactly the radius is inside), as in Kynkaanniemi et al.'s eq. 1.
Distances are Euclidean, compared squared. Memory stays bounded: one pass over the real pairs and
one over the fake pairs give the radii (``distances.kth_neighbour_radii``), one pass over the
real x fake tiles accumulates all four metrics at once. Radii and every membership test near a
radius are taken on exactly recomputed distances (``distances.within_radii``), so a fake sample
that copies a real one lands on a ball's boundary exactly as a brute-force loop over the pairs
puts it there, whatever ``block_size``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sagan_tf.evaluation.metrics.distances import (
    DEFAULT_BLOCK_SIZE,
    band_factor,
    distance_tiles,
    exact_squared_distances,
    kth_neighbour_radii,
    squared_norms,
    within_radii,
)
from sagan_tf.evaluation.metrics.feature_sets import check_feature_sets, check_k

MANIFOLD_METRICS = ("precision", "recall", "density", "coverage")


def manifold_metrics(
    real,
    fake,
    metrics: Iterable[str] = MANIFOLD_METRICS,
    k_pr: int = 3,
    k_dc: int = 5,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> dict[str, float]:
    """``{name: value}`` for each of ``metrics`` (a subset of precision, recall, density, coverage),
    with ``k_pr`` for precision/recall and ``k_dc`` for density/coverage; the passes over the pairs
    are shared, and only the radii the metrics need are computed."""
    names = list(dict.fromkeys(metrics))
    unknown = [m for m in names if m not in MANIFOLD_METRICS]
    if unknown or not names:
        raise ValueError(f"metrics must be a non-empty subset of {', '.join(MANIFOLD_METRICS)}, got {names}")
    k_pr, k_dc = check_k(k_pr, "k_pr"), check_k(k_dc, "k_dc")
    real_ks = ({k_pr} if "precision" in names else set()) | ({k_dc} if {"density", "coverage"} & set(names) else set())
    min_real = max(real_ks) + 1 if real_ks else 1
    min_fake = k_pr + 1 if "recall" in names else 1
    real, fake = check_feature_sets(real, fake, "/".join(names), min_real, min_fake)

    real_radii = kth_neighbour_radii(real, real_ks, block_size) if real_ks else {}
    fake_radii = kth_neighbour_radii(fake, [k_pr], block_size)[k_pr] if "recall" in names else None
    n, m = real.shape[0], fake.shape[0]
    fake_in_real = np.zeros(m, bool)  # precision: fake j inside some real k_pr-ball
    real_in_fake = np.zeros(n, bool)  # recall: real i inside some fake k_pr-ball
    balls_holding = np.zeros(m, np.int64)  # density: real k_dc-balls that contain fake j
    covered = np.zeros(n, bool)  # coverage: real k_dc-ball i holds some fake
    real_norms, fake_norms = squared_norms(real), squared_norms(fake)
    factor = band_factor(real.shape[1])
    for i, j, d2 in distance_tiles(real, fake, block_size):
        rows, cols = slice(i, i + d2.shape[0]), slice(j, j + d2.shape[1])

        def exact(r, c, i=i, j=j):
            return exact_squared_distances(real, fake, i + r, j + c)

        # band >= band_factor * (|real_i|^2 + |fake_j|^2) for every pair of the tile
        row_band = (factor * (real_norms[rows] + fake_norms[cols].max()))[:, None]
        if "precision" in names:
            fake_in_real[cols] |= within_radii(d2, real_radii[k_pr][rows, None], row_band, exact).any(axis=0)
        if "recall" in names:
            col_band = (factor * (fake_norms[cols] + real_norms[rows].max()))[None, :]
            real_in_fake[rows] |= within_radii(d2, fake_radii[None, cols], col_band, exact).any(axis=1)
        if {"density", "coverage"} & set(names):
            inside = within_radii(d2, real_radii[k_dc][rows, None], row_band, exact)
            balls_holding[cols] += inside.sum(axis=0)
            covered[rows] |= inside.any(axis=1)
    values = {
        "precision": lambda: fake_in_real.mean(),
        "recall": lambda: real_in_fake.mean(),
        "density": lambda: balls_holding.sum() / (k_dc * m),
        "coverage": lambda: covered.mean(),
    }
    return {name: float(values[name]()) for name in names}


def precision_recall(real, fake, k: int = 3, block_size: int = DEFAULT_BLOCK_SIZE) -> tuple[float, float]:
    """(precision, recall) of ``fake`` (M, d) against ``real`` (N, d) features, k-NN radii with ``k``
    (Kynkaanniemi et al. 2019; see the module docstring)."""
    out = manifold_metrics(real, fake, ("precision", "recall"), k_pr=k, block_size=block_size)
    return out["precision"], out["recall"]


def density_coverage(real, fake, k: int = 5, block_size: int = DEFAULT_BLOCK_SIZE) -> tuple[float, float]:
    """(density, coverage) of ``fake`` (M, d) against ``real`` (N, d) features, k-NN radii of the real
    set with ``k`` (Naeem et al. 2020; see the module docstring)."""
    out = manifold_metrics(real, fake, ("density", "coverage"), k_dc=k, block_size=block_size)
    return out["density"], out["coverage"]
