"""Frechet distance (FID, Heusel et al. 2017) and intra-FID (Miyato & Koyama 2018), as in SAGAN section 5.

Both sets of features are summarized by a Gaussian (mean ``mu``, covariance ``sigma``) and

    d^2 = |mu_1 - mu_2|^2 + Tr(sigma_1 + sigma_2 - 2 (sigma_1 sigma_2)^(1/2))        (Heusel et al. eq. 6)

with the matrix square root from ``scipy.linalg.sqrtm`` and the same guards as the reference TTUR
implementation (``bioinf-jku/TTUR``): a small multiple of the identity is added to both
covariances when the product is singular, and a negligible imaginary part is dropped.

intra-FID is the FID between the generated and the real images of each class, averaged over the
classes (SAGAN Table 2 and Miyato & Koyama report the mean).

Feature statistics are accumulated batch by batch with the pairwise update of Chan, Golub and
LeVeque (1979) in float64, so 50k x 2048 features never sit in memory and the covariance does not
suffer the cancellation of ``E[xx^T] - mu mu^T``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping

import numpy as np
import scipy.linalg


@dataclasses.dataclass
class GaussianStats:
    """Mean (d,), unbiased covariance (d, d) and sample count of a set of features."""

    mu: np.ndarray
    sigma: np.ndarray
    count: int

    @classmethod
    def from_features(cls, features: np.ndarray) -> GaussianStats:
        acc = StatsAccumulator()
        acc.add(features)
        return acc.result()


class StatsAccumulator:
    """Streaming mean and covariance of feature batches (float64, Chan et al. pairwise update)."""

    def __init__(self):
        self.count = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None  # sum of outer products of deviations from the mean

    def add(self, features: np.ndarray) -> None:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be (batch, dim), got shape {x.shape}")
        n = x.shape[0]
        if n == 0:
            return
        mean_b = x.mean(axis=0)
        dev = x - mean_b
        m2_b = dev.T @ dev
        if self.count == 0:
            self.count, self.mean, self.m2 = n, mean_b, m2_b
            return
        if mean_b.shape != self.mean.shape:
            raise ValueError(f"feature dimension changed from {self.mean.shape[0]} to {mean_b.shape[0]}")
        total = self.count + n
        delta = mean_b - self.mean
        self.m2 = self.m2 + m2_b + np.outer(delta, delta) * (self.count * n / total)
        self.mean = self.mean + delta * (n / total)
        self.count = total

    def result(self) -> GaussianStats:
        if self.count < 2:
            raise ValueError(f"need at least 2 feature vectors for a covariance, got {self.count}")
        return GaussianStats(self.mean.copy(), self.m2 / (self.count - 1), self.count)


class ClassStatsAccumulator:
    """Overall statistics plus one ``StatsAccumulator`` per class label (for intra-FID)."""

    def __init__(self, per_class: bool = True):
        self.overall = StatsAccumulator()
        self.per_class = per_class
        self.classes: dict[int, StatsAccumulator] = {}

    def add(self, features: np.ndarray, labels: np.ndarray) -> None:
        features = np.asarray(features)
        labels = np.asarray(labels).reshape(-1)
        self.overall.add(features)
        if not self.per_class:
            return
        for c in np.unique(labels):
            self.classes.setdefault(int(c), StatsAccumulator()).add(features[labels == c])

    def result(self) -> tuple[GaussianStats, dict[int, GaussianStats]]:
        return self.overall.result(), {c: acc.result() for c, acc in sorted(self.classes.items())}


def frechet_distance(a: GaussianStats, b: GaussianStats, eps: float = 1e-6) -> float:
    """The Frechet distance between the Gaussians ``a`` and ``b`` (see module docstring)."""
    mu1, mu2 = np.atleast_1d(a.mu).astype(np.float64), np.atleast_1d(b.mu).astype(np.float64)
    s1, s2 = np.atleast_2d(a.sigma).astype(np.float64), np.atleast_2d(b.sigma).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"statistics of different dimension: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    covmean = _sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = _sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))} in the covariance square root")
        covmean = covmean.real
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # singular products are handled by the caller
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return scipy.linalg.sqrtm(matrix)


def intra_fid(
    generated: Mapping[int, GaussianStats], real: Mapping[int, GaussianStats]
) -> tuple[float, dict[int, float]]:
    """(mean over classes, {class: FID}) for the classes present in both ``generated`` and ``real``.

    A class missing from either side is an error: a silently skipped class would flatter the mean.
    """
    missing = sorted(set(generated) ^ set(real))
    if missing:
        raise ValueError(f"classes {missing} have statistics on one side only")
    if not generated:
        raise ValueError("intra-FID needs at least one class")
    per_class = {c: frechet_distance(generated[c], real[c]) for c in sorted(generated)}
    return float(np.mean(list(per_class.values()))), per_class
