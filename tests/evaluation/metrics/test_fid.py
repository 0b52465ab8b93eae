"""Frechet distance against closed forms, streaming statistics against numpy, intra-FID bookkeeping."""

import numpy as np
import pytest

from sagan_tf.evaluation.metrics.fid import (
    ClassStatsAccumulator,
    GaussianStats,
    StatsAccumulator,
    frechet_distance,
    intra_fid,
)


def random_spd(d, rng):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_identical_gaussians_are_at_distance_zero():
    rng = np.random.default_rng(0)
    s = GaussianStats(rng.normal(size=16), random_spd(16, rng), 100)
    assert frechet_distance(s, s) == pytest.approx(0.0, abs=1e-8)


def test_diagonal_covariances_closed_form():
    """d^2 = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2 for diagonal covariances."""
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    a, b = rng.uniform(0.1, 3, 8), rng.uniform(0.1, 3, 8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(GaussianStats(mu1, np.diag(a), 10), GaussianStats(mu2, np.diag(b), 10))
    assert got == pytest.approx(expected, rel=1e-9)


def test_covariances_sharing_eigenvectors_closed_form():
    """Rotating both diagonal covariances by the same orthogonal Q leaves the closed form valid."""
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    a, b = rng.uniform(0.5, 2, 6), rng.uniform(0.5, 2, 6)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    mu = rng.normal(size=6)
    expected = np.sum(mu**2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(GaussianStats(mu, s1, 10), GaussianStats(np.zeros(6), s2, 10))
    assert got == pytest.approx(expected, rel=1e-8)


def test_one_dimensional_is_difference_of_means_and_stds_squared():
    got = frechet_distance(GaussianStats(np.array([1.0]), np.array([[4.0]]), 5),
                           GaussianStats(np.array([-2.0]), np.array([[9.0]]), 5))
    assert got == pytest.approx(3.0**2 + (2.0 - 3.0) ** 2)


def test_singular_covariances_stay_finite_and_close_to_the_closed_form():
    """Rank-deficient covariances (as with fewer samples than dimensions) give a finite value."""
    a = np.array([1.0, 2.0, 0.0, 0.0])
    b = np.array([0.0, 1.0, 4.0, 0.0])
    got = frechet_distance(GaussianStats(np.zeros(4), np.diag(a), 3), GaussianStats(np.ones(4), np.diag(b), 3))
    expected = 4.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert np.isfinite(got) and got == pytest.approx(expected, abs=1e-2)


def test_streaming_statistics_equal_numpy_and_resist_a_large_offset():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1000, 5)) * [1, 2, 3, 4, 5] + 1e6  # E[xx^T] - mu mu^T would lose every digit
    acc = StatsAccumulator()
    for start in (0, 7, 300, 301, 1000):  # uneven batches, one empty, one of a single row
        acc.add(x[start : {0: 7, 7: 300, 300: 301, 301: 1000, 1000: 1000}[start]])
    stats = acc.result()
    assert stats.count == 1000
    np.testing.assert_allclose(stats.mu, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.sigma, np.cov(x, rowvar=False), rtol=1e-7, atol=1e-7)


def test_class_statistics_are_the_statistics_of_each_label():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(300, 3)), rng.integers(0, 3, 300)
    acc = ClassStatsAccumulator()
    for start in range(0, 300, 64):
        acc.add(x[start : start + 64], y[start : start + 64])
    overall, classes = acc.result()
    np.testing.assert_allclose(overall.sigma, np.cov(x, rowvar=False), atol=1e-12)
    assert sorted(classes) == [0, 1, 2]
    for c, stats in classes.items():
        np.testing.assert_allclose(stats.mu, x[y == c].mean(axis=0), atol=1e-12)
        np.testing.assert_allclose(stats.sigma, np.cov(x[y == c], rowvar=False), atol=1e-12)
        assert stats.count == np.sum(y == c)


def test_intra_fid_pairs_each_class_with_its_own_real_statistics():
    """Class c's generated mean is shifted by c in every dimension: FID_c = c^2 * d exactly."""
    rng = np.random.default_rng(5)
    d = 4
    real = {c: GaussianStats(rng.normal(size=d), random_spd(d, rng), 50) for c in range(4)}
    generated = {c: GaussianStats(s.mu + c, s.sigma, 50) for c, s in real.items()}
    mean, per_class = intra_fid(generated, real)
    for c in range(4):
        assert per_class[c] == pytest.approx(c**2 * d, abs=1e-6)
    assert mean == pytest.approx(np.mean([c**2 * d for c in range(4)]), abs=1e-6)
    with pytest.raises(ValueError, match=r"classes \[3\]"):
        intra_fid({c: generated[c] for c in range(3)}, real)
