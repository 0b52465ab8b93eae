"""Blocked squared distances and k-NN radii against scipy's cdist and a brute-force sort, exactly
when points are duplicated."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from sagan_tf.evaluation.metrics import distances
from sagan_tf.evaluation.metrics.distances import (
    distance_tiles,
    exact_squared_distances,
    kth_neighbour_radii,
    nearest_neighbour_distances,
    squared_norms,
)


def assembled(a, b, block_size):
    """The full matrix put together from the tiles, each cell written exactly once."""
    out = np.full((len(a), len(b)), np.nan)
    for i, j, d2 in distance_tiles(a, b, block_size):
        assert d2.shape[0] <= block_size and d2.shape[1] <= block_size
        assert np.isnan(out[i : i + d2.shape[0], j : j + d2.shape[1]]).all()
        out[i : i + d2.shape[0], j : j + d2.shape[1]] = d2
    return out


@pytest.mark.parametrize("block_size", [1, 7, 16, 1000])
def test_tiles_cover_the_matrix_and_equal_cdist(block_size):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(23, 6)), rng.normal(size=(16, 6)) + 0.5
    np.testing.assert_allclose(assembled(a, b, block_size), cdist(a, b, "sqeuclidean"), rtol=1e-12, atol=1e-12)


def test_float32_features_far_from_the_origin_keep_their_small_distances():
    """Offset 1000 in every one of 64 dimensions: |a|^2 is about 6.4e7 while neighbours are ~1 apart;
    float64 tiles keep the distances to ~1e-7 (float32 would lose them)."""
    rng = np.random.default_rng(1)
    a = (rng.normal(size=(30, 64)) * 0.1 + 1000).astype(np.float32)
    expected = cdist(a.astype(np.float64), a.astype(np.float64), "sqeuclidean")
    np.testing.assert_allclose(assembled(a, a, 8), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(squared_norms(a), np.sum(a.astype(np.float64) ** 2, axis=1), rtol=1e-14)


def brute_force_neighbours(x, k):
    """For each point, the sorted squared distances to all others (itself removed by index), first k."""
    d2 = cdist(x, x, "sqeuclidean")
    return np.stack([np.sort(np.delete(d2[i], i))[:k] for i in range(len(x))])


@pytest.mark.parametrize("block_size", [1, 3, 5, 64])
def test_nearest_neighbours_equal_a_brute_force_sort(block_size):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(41, 5))
    got = nearest_neighbour_distances(x, 6, block_size)
    np.testing.assert_allclose(got, brute_force_neighbours(x, 6), rtol=1e-10, atol=1e-12)
    radii = kth_neighbour_radii(x, [5, 2, 5], block_size)
    assert sorted(radii) == [2, 5]
    np.testing.assert_allclose(radii[2], got[:, 1], rtol=0)
    np.testing.assert_allclose(radii[5], got[:, 4], rtol=0)


def test_hand_built_one_dimensional_radii_with_a_duplicate():
    """Points 0, 0, 1, 3, 7: the duplicated 0 is its twin's neighbour at distance 0."""
    x = np.array([[0.0], [0.0], [1.0], [3.0], [7.0]])
    radii = kth_neighbour_radii(x, [1, 2], block_size=2)
    np.testing.assert_array_equal(radii[1], np.array([0, 0, 1, 2, 4]) ** 2)
    np.testing.assert_array_equal(radii[2], np.array([1, 1, 1, 3, 6]) ** 2)


def test_too_few_points_for_k_is_an_error():
    with pytest.raises(ValueError, match="more than 3 points"):
        nearest_neighbour_distances(np.zeros((3, 2)), 3)
    with pytest.raises(ValueError, match="block_size"):
        next(distance_tiles(np.zeros((3, 2)), np.zeros((3, 2)), 0))


def test_exact_distances_are_one_computation_for_every_pair():
    """sum((a - b)^2) in float64, pair by pair: the same bits whether a pair comes alone or in a
    batch, at any position, and for copies of its points."""
    rng = np.random.default_rng(3)
    a = (rng.normal(size=(9, 130)) + 3).astype(np.float32)
    b = np.concatenate([a[::-1], (rng.normal(size=(4, 130)) + 3).astype(np.float32)])
    rows, cols = np.repeat(np.arange(9), 13), np.tile(np.arange(13), 9)
    together = exact_squared_distances(a, b, rows, cols)
    loop = [float(np.sum((a[r].astype(np.float64) - b[c].astype(np.float64)) ** 2)) for r, c in zip(rows, cols, strict=True)]
    assert together.tolist() == loop
    assert [exact_squared_distances(a, b, [r], [c])[0] for r, c in zip(rows, cols, strict=True)] == loop
    # b[8 - i] is a copy of a[i]: the distance a[i] -> b[8 - j] is the distance a[i] -> a[j], to the bit
    np.testing.assert_array_equal(together.reshape(9, 13)[:, 8::-1], exact_squared_distances(a, a, np.repeat(np.arange(9), 9), np.tile(np.arange(9), 9)).reshape(9, 9))


@pytest.mark.parametrize("block_size", [1, 3, 7, 64])
def test_nearest_neighbours_with_copies_equal_the_brute_force_exactly(block_size, monkeypatch):
    """Points far from the origin (|a|^2 + |b|^2 - 2ab cancels), some present twice and one present
    30 times (more than the 2k + 8 kept candidates: its rows take the second scan): the k nearest
    distances are cdist's, bit for bit, whatever the block size."""
    rng = np.random.default_rng(4)
    base = (rng.normal(size=(40, 32)) + 5).astype(np.float32)
    x = np.concatenate([base, base[:8], np.repeat(base[8:9], 29, axis=0)])
    x = x[rng.permutation(len(x))]
    scanned = []
    scan = distances._nearest_by_scan
    monkeypatch.setattr(distances, "_nearest_by_scan", lambda x_, norms, rows, *rest: scanned.extend(rows) or scan(x_, norms, rows, *rest))
    got = nearest_neighbour_distances(x, 5, block_size)
    np.testing.assert_array_equal(got, brute_force_neighbours(x.astype(np.float64), 5))
    copies = np.flatnonzero((x == base[8]).all(axis=1))
    assert len(copies) == 30 and set(copies) <= set(scanned)  # (and points whose 5th neighbour is base[8])
    assert (got[copies] == 0).all() and (got[:, 4] > 0).sum() == len(x) - 30
