"""Kernel Inception Distance (KID, Bińkowski et al. 2018, "Demystifying MMD GANs", section 4).

KID is the squared maximum mean discrepancy between the real and the generated features with the
cubic polynomial kernel

    k(x, y) = (x . y / d + 1)^3        (d: the feature dimension)

estimated without bias (Gretton et al. 2012, "A Kernel Two-Sample Test", eq. 3):

    MMD^2_u = 1/(m(m-1)) sum_{i != i'} k(x_i, x_i') + 1/(n(n-1)) sum_{j != j'} k(y_j, y_j')
              - 2/(mn) sum_{i, j} k(x_i, y_j)

so it can be slightly negative when the two sets come from one distribution. As in Bińkowski et
al., it is averaged over subsets: each of ``num_subsets`` subsets takes ``min(subset_size, N)``
real and ``min(subset_size, M)`` fake rows, each drawn without replacement (clean-fid and
torch-fidelity do the same), and the mean and the standard deviation (numpy's, ddof 0) of the
per-subset estimates are reported. When neither set is larger than ``subset_size`` every subset
would be the whole sets: they form one subset and the standard deviation is 0.0.
"""

from __future__ import annotations

import numpy as np

from sagan_tf.evaluation.metrics.feature_sets import check_feature_sets, check_k


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(len(x), len(y)) float64 matrix of (x . y / d + 1)^3."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    gram = x @ y.T
    gram /= x.shape[1]
    gram += 1.0
    return gram**3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 estimate between the rows of ``x`` (m >= 2) and ``y`` (n >= 2) with the
    cubic polynomial kernel (see the module docstring)."""
    m, n = x.shape[0], y.shape[0]
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * kxy.sum() / (m * n))


def kid_subsets(
    num_real: int, num_fake: int, subset_size: int = 1000, num_subsets: int = 100, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (real indices, fake indices) of each subset KID averages over: ``min(subset_size, N)``
    distinct real and ``min(subset_size, M)`` distinct fake indices per subset, drawn with
    ``numpy.random.default_rng(seed)``; one subset of all indices when neither set is larger than
    ``subset_size``."""
    if num_real <= subset_size and num_fake <= subset_size:
        return [(np.arange(num_real), np.arange(num_fake))]
    rng = np.random.default_rng(seed)
    m, n = min(subset_size, num_real), min(subset_size, num_fake)
    return [
        (rng.choice(num_real, m, replace=False), rng.choice(num_fake, n, replace=False)) for _ in range(num_subsets)
    ]


def kid(real, fake, subset_size: int = 1000, num_subsets: int = 100, seed: int = 0) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD^2 between ``real`` (N, d) and ``fake`` (M, d) features over
    the subsets of ``kid_subsets`` (Bińkowski et al. 2018; see the module docstring)."""
    subset_size, num_subsets = check_k(subset_size, "subset_size"), check_k(num_subsets, "num_subsets")
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2 (the unbiased estimate needs pairs), got {subset_size}")
    real, fake = check_feature_sets(real, fake, "KID", min_real=2, min_fake=2)
    values = [
        mmd2_unbiased(real[r], fake[f])
        for r, f in kid_subsets(real.shape[0], fake.shape[0], subset_size, num_subsets, seed)
    ]
    return float(np.mean(values)), float(np.std(values))
