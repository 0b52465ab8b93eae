"""Blocked squared distances and k-NN radii against scipy's cdist and a brute-force sort."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from sagan_tf.evaluation.metrics.distances import (
    distance_tiles,
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
