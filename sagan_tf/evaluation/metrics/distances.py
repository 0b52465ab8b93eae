"""Squared Euclidean distances between feature sets, block by block, in bounded memory.

50k x 50k distances would take 20 GB; here they are never held at once. Rows of ``a`` and rows of
``b`` are taken ``block_size`` at a time and each (block x block) tile is computed in float64 as

    |a_i - b_j|^2 = |a_i|^2 + |b_j|^2 - 2 a_i . b_j,  clipped at 0

(the clip removes the small negative values that rounding leaves for nearly equal points). Callers
reduce each tile at once (a running k-smallest, a count, a minimum), so memory is a few tiles
whatever the number of samples.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

DEFAULT_BLOCK_SIZE = 1024


def squared_norms(x: np.ndarray) -> np.ndarray:
    """|x_i|^2 of every row, in float64."""
    x = np.asarray(x)
    out = np.empty(x.shape[0], np.float64)
    for start in range(0, x.shape[0], DEFAULT_BLOCK_SIZE):
        part = np.asarray(x[start : start + DEFAULT_BLOCK_SIZE], np.float64)
        out[start : start + len(part)] = np.einsum("ij,ij->i", part, part)
    return out


def _tile(a_block: np.ndarray, a_norms: np.ndarray, b_block: np.ndarray, b_norms: np.ndarray) -> np.ndarray:
    d2 = a_block @ b_block.T
    d2 *= -2.0
    d2 += a_norms[:, None]
    d2 += b_norms[None, :]
    return np.maximum(d2, 0.0, out=d2)


def distance_tiles(
    a: np.ndarray, b: np.ndarray, block_size: int = DEFAULT_BLOCK_SIZE
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yields ``(i, j, d2)``: ``d2[r, c] = |a[i + r] - b[j + c]|^2`` (float64) for every tile of at
    most ``block_size`` rows of ``a`` by ``block_size`` rows of ``b``, row blocks in order."""
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    a_norms, b_norms = squared_norms(a), squared_norms(b)
    for i in range(0, a.shape[0], block_size):
        a_block = np.asarray(a[i : i + block_size], np.float64)
        for j in range(0, b.shape[0], block_size):
            b_block = np.asarray(b[j : j + block_size], np.float64)
            yield i, j, _tile(a_block, a_norms[i : i + block_size], b_block, b_norms[j : j + block_size])


def _keep_smallest(best: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` smallest values of each row of ``[best, candidates]`` (unordered)."""
    merged = np.concatenate([best, candidates], axis=1)
    if merged.shape[1] <= k:
        return merged
    return np.partition(merged, k - 1, axis=1)[:, :k]


def nearest_neighbour_distances(x: np.ndarray, k: int, block_size: int = DEFAULT_BLOCK_SIZE) -> np.ndarray:
    """(n, k) float64: row i holds the squared distances from ``x[i]`` to its k nearest neighbours
    among the other rows of ``x`` (the point itself excluded; duplicates count), ascending.

    Each tile of the upper triangle is computed once and serves both its rows and, transposed,
    its columns; the diagonal of a diagonal tile (a point and itself) is excluded.
    """
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"the {k}-th nearest neighbour needs more than {k} points, got {n}")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    norms = squared_norms(x)
    best = np.full((n, k), np.inf)
    for i in range(0, n, block_size):
        rows = slice(i, min(i + block_size, n))
        x_rows = np.asarray(x[rows], np.float64)
        for j in range(i, n, block_size):
            cols = slice(j, min(j + block_size, n))
            d2 = _tile(x_rows, norms[rows], np.asarray(x[cols], np.float64), norms[cols])
            if j == i:
                np.fill_diagonal(d2, np.inf)
            best[rows] = _keep_smallest(best[rows], d2, k)
            if j != i:
                best[cols] = _keep_smallest(best[cols], d2.T, k)
    return np.sort(best, axis=1)


def kth_neighbour_radii(x: np.ndarray, ks, block_size: int = DEFAULT_BLOCK_SIZE) -> dict[int, np.ndarray]:
    """``{k: squared distance from each row of x to its k-th nearest other row}`` for every k in
    ``ks``, from one pass over the pairs."""
    ks = sorted(set(ks))
    nearest = nearest_neighbour_distances(x, ks[-1], block_size)
    return {k: nearest[:, k - 1].copy() for k in ks}
