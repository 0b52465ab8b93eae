"""Squared Euclidean distances between feature sets, block by block, in bounded memory, with every
decision at a boundary (a k-th neighbour, a ball's radius) taken on exactly recomputed distances.

50k x 50k distances would take 20 GB; here they are never held at once. Rows of ``a`` and rows of
``b`` are taken ``block_size`` at a time and each (block x block) tile is computed in float64 as

    |a_i - b_j|^2 = |a_i|^2 + |b_j|^2 - 2 a_i . b_j,  clipped at 0

(one matrix product per tile: the fast formula). Callers reduce each tile at once (a running
k-smallest, a count), so memory is a few tiles whatever the number of samples.

The fast formula rounds differently in different tiles: the distance of one pair, or of two pairs
with identical points (a generated sample that copies a real one), can come out a few ulps apart
depending on where the pair falls in the tiling. A copy lying exactly on a ball's radius would then
be inside or outside depending on ``block_size``. So the fast values only rank and sort out the
clear cases; every pair whose fast value lies within a bound on its rounding error
(``band_factor``) of a decision threshold is recomputed by ``exact_squared_distances``, one
function for every pair, so identical points give identical bits, and the decisions (which value
is the k-th neighbour's, whether a point is ``<=`` a radius) are taken on those values. The results
are then those of a brute-force loop over the pairs with ``sum((a - b) ** 2)``, whatever the block
size. Few pairs are recomputed: the k-th neighbour of each point, and the pairs tied (or within
a few ulps) with a threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

DEFAULT_BLOCK_SIZE = 1024
EXACT_CHUNK = 1 << 22  # float64 values per chunk of exact recomputation (32 MB)
UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2  # u = 2^-53


def squared_norms(x: np.ndarray) -> np.ndarray:
    """|x_i|^2 of every row, in float64."""
    x = np.asarray(x)
    out = np.empty(x.shape[0], np.float64)
    for start in range(0, x.shape[0], DEFAULT_BLOCK_SIZE):
        part = np.asarray(x[start : start + DEFAULT_BLOCK_SIZE], np.float64)
        out[start : start + len(part)] = np.einsum("ij,ij->i", part, part)
    return out


def band_factor(dim: int) -> float:
    """c such that |fast(a, b) - exact(a, b)| <= c * (|a|^2 + |b|^2) for every pair of float64
    vectors of dimension ``dim`` (fast: ``_tile``, exact: ``exact_squared_distances``).

    Derivation, with u = 2^-53, s = |a|^2 + |b|^2, d = |a - b|^2 <= 2s and gamma_n = n u / (1 - n u)
    (Higham, "Accuracy and Stability of Numerical Algorithms", section 3.1: a dot product of length
    n, summed in any order, with or without FMA, is off by at most gamma_n sum |x_t y_t|):
      * the norms |a|^2, |b|^2: off by at most gamma_dim |a|^2 and gamma_dim |b|^2;
      * the product a . b (BLAS): off by at most gamma_dim sum |a_t b_t| <= gamma_dim |a||b| <= gamma_dim s / 2,
        so -2 a . b by at most gamma_dim s (the factor -2 is exact);
      * the two additions of the tile (|a|^2 - 2ab, then + |b|^2) round intermediates of size at most
        2s and 3s: at most 5u s (times 1 + gamma_dim); the clip at 0 only moves towards d >= 0.
      So |fast - d| <= (2 gamma_dim + 5.1 u) s <= (3 dim + 6) u s when dim * u <= 0.01.
      * exact = fl(sum fl(fl(a_t - b_t)^2)) = d (1 + theta), |theta| <= gamma_(dim+2) (all terms
        are >= 0), so |exact - d| <= 2 gamma_(dim+2) s <= 2.03 (dim + 2) u s.
    Together |fast - exact| <= (5.03 dim + 10.1) u s. The norms in s are themselves computed (off by
    a factor 1 +- gamma_dim), and the thresholds r +- band are rounded once more (off by u |r|,
    and only r <= 4s can be near a fast value <= 2s (1 + 3 dim u)): c = 8 (dim + 2) u covers all
    of it with room to spare. The band costs nothing in correctness, only in pairs recomputed.
    """
    return 8.0 * (dim + 2) * UNIT_ROUNDOFF


def exact_squared_distances(a: np.ndarray, b: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """float64 ``sum((a[rows[p]] - b[cols[p]]) ** 2)`` for every pair p: the difference element by
    element, squared, then summed along the row by numpy (its pairwise summation of one contiguous
    row, the same for every pair), so two pairs of identical points give bit-identical values.
    Chunked, so memory stays bounded however many pairs."""
    rows, cols = np.asarray(rows, np.intp), np.asarray(cols, np.intp)
    out = np.empty(len(rows), np.float64)
    step = max(1, EXACT_CHUNK // max(1, a.shape[1]))
    for start in range(0, len(rows), step):
        diff = np.asarray(a[rows[start : start + step]], np.float64) - np.asarray(b[cols[start : start + step]], np.float64)
        np.multiply(diff, diff, out=diff)
        out[start : start + len(diff)] = diff.sum(axis=1)
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
    """Yields ``(i, j, d2)``: ``d2[r, c] = |a[i + r] - b[j + c]|^2`` (float64, the fast formula) for
    every tile of at most ``block_size`` rows of ``a`` by ``block_size`` rows of ``b``, row blocks
    in order."""
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    a_norms, b_norms = squared_norms(a), squared_norms(b)
    for i in range(0, a.shape[0], block_size):
        a_block = np.asarray(a[i : i + block_size], np.float64)
        for j in range(0, b.shape[0], block_size):
            b_block = np.asarray(b[j : j + block_size], np.float64)
            yield i, j, _tile(a_block, a_norms[i : i + block_size], b_block, b_norms[j : j + block_size])


def within_radii(
    d2: np.ndarray, radii: np.ndarray, band: np.ndarray, exact: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Boolean tile: exact |a - b|^2 <= radius for each pair of a fast tile ``d2``. ``radii`` and
    ``band`` broadcast against ``d2`` ((h, 1): one per row, or (1, w): one per column), ``band`` at
    least ``band_factor(dim) * (|a|^2 + |b|^2)`` for every pair; ``exact(r, c)`` gives the exact
    squared distances of the tile's pairs (r, c). Fast values more than ``band`` below a radius are
    inside, more than ``band`` above it outside; the pairs in between are recomputed."""
    inside = d2 <= radii + band
    doubt = inside & (d2 >= radii - band)
    if doubt.any():
        r, c = np.nonzero(doubt)
        inside[r, c] = exact(r, c) <= np.broadcast_to(radii, d2.shape)[r, c]
    return inside


def _keep_smallest(best: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` smallest values of each row of ``[best, candidates]`` (unordered)."""
    merged = np.concatenate([best, candidates], axis=1)
    if merged.shape[1] <= k:
        return merged
    return np.partition(merged, k - 1, axis=1)[:, :k]


def _keep_smallest_indexed(
    best: np.ndarray, best_index: np.ndarray, candidates: np.ndarray, first: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``best.shape[1]`` smallest values of each row of ``[best, candidates]``, ascending, and
    their indices (those of ``best`` from ``best_index``; candidate column c is index ``first + c``).

    Only candidates below a row's largest kept value can enter it, so any value left out is >= every
    value kept. Once the rows hold their neighbours so far, few candidates of a new tile qualify:
    they are merged by one sort of (row, value) instead of a partition of the whole tile.
    """
    h, keep = best.shape
    enters = candidates < best[:, -1:]  # best is ascending: its last column is the largest
    r, c = np.nonzero(enters) if enters.sum() * 8 < enters.size else (None, None)
    if r is None:  # dense (the first tiles): partition [best, candidates]
        merged = np.concatenate([best, candidates], axis=1)
        pos = np.argpartition(merged, keep - 1, axis=1)[:, :keep]
        values = np.take_along_axis(merged, pos, axis=1)
        from_best = np.take_along_axis(best_index, np.minimum(pos, keep - 1), axis=1)
        index = np.where(pos < keep, from_best, first + pos - keep)
        order = np.argsort(values, axis=1)
        return np.take_along_axis(values, order, axis=1), np.take_along_axis(index, order, axis=1)
    row = np.concatenate([np.repeat(np.arange(h), keep), r])
    value = np.concatenate([best.ravel(), candidates[r, c]])
    index = np.concatenate([best_index.ravel(), first + c])
    order = np.lexsort((value, row))  # by row, then by value
    starts = np.concatenate([[0], np.cumsum(keep + np.bincount(r, minlength=h))[:-1]])
    take = order[starts[:, None] + np.arange(keep)[None, :]]
    return value[take], index[take]


def nearest_neighbour_distances(x: np.ndarray, k: int, block_size: int = DEFAULT_BLOCK_SIZE) -> np.ndarray:
    """(n, k) float64: row i holds the squared distances from ``x[i]`` to its k nearest neighbours
    among the other rows of ``x`` (the point itself excluded; duplicates count), ascending, each the
    exact value of ``exact_squared_distances`` (independent of ``block_size``).

    One pass over the pairs with the fast formula keeps, for every point, its ``keep`` (> k)
    nearest candidates and their indices; each tile of the upper triangle is computed once and
    serves both its rows and, transposed, its columns (the diagonal, a point and itself, excluded).
    With r the fast k-th value and T = band_factor * (|x_i|^2 + max_j |x_j|^2) >= |fast - exact| on
    every pair of row i, the exact k-th value lies within T of r (order statistics move by at most
    the largest change of their values), so a pair with fast value > r + 2T is exactly farther than
    it: the k nearest exact values are among the candidates with fast value <= r + 2T, which are
    recomputed exactly. When the ``keep`` candidates do not reach past r + 2T (many near-ties, e.g.
    many duplicates), the row's candidates are collected by a second pass over that row's pairs.
    """
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"the {k}-th nearest neighbour needs more than {k} points, got {n}")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    norms = squared_norms(x)
    keep = min(n - 1, 2 * k + 8)  # room beyond the k-th for the pairs tied with it or near it
    best = np.full((n, keep), np.inf)
    best_index = np.full((n, keep), -1, np.intp)
    for i in range(0, n, block_size):
        rows = slice(i, min(i + block_size, n))
        x_rows = np.asarray(x[rows], np.float64)
        for j in range(i, n, block_size):
            cols = slice(j, min(j + block_size, n))
            d2 = _tile(x_rows, norms[rows], np.asarray(x[cols], np.float64), norms[cols])
            if j == i:
                np.fill_diagonal(d2, np.inf)
            best[rows], best_index[rows] = _keep_smallest_indexed(best[rows], best_index[rows], d2, j)
            if j != i:
                best[cols], best_index[cols] = _keep_smallest_indexed(best[cols], best_index[cols], d2.T, i)

    limit = best[:, k - 1] + 2.0 * band_factor(x.shape[1]) * (norms + norms.max())
    candidate = best <= limit[:, None]
    exact = np.full((n, keep), np.inf)
    r, c = np.nonzero(candidate)
    exact[r, c] = exact_squared_distances(x, x, r, best_index[r, c])
    nearest = np.sort(np.partition(exact, k - 1, axis=1)[:, :k], axis=1)
    incomplete = np.flatnonzero(candidate.all(axis=1)) if keep < n - 1 else np.zeros(0, np.intp)
    if len(incomplete):
        nearest[incomplete] = _nearest_by_scan(x, norms, incomplete, limit[incomplete], k, block_size)
    return nearest


def _nearest_by_scan(
    x: np.ndarray, norms: np.ndarray, rows: np.ndarray, limit: np.ndarray, k: int, block_size: int
) -> np.ndarray:
    """(len(rows), k): the k smallest exact squared distances from each ``x[rows[p]]`` to the other
    rows of ``x`` among the pairs whose fast value is <= ``limit[p]``, ascending (a pass over these
    rows' pairs, for rows whose kept candidates did not reach past ``limit``)."""
    n = x.shape[0]
    best = np.full((len(rows), k), np.inf)
    for s in range(0, len(rows), block_size):
        part = rows[s : s + block_size]
        x_part = np.asarray(x[part], np.float64)
        for j in range(0, n, block_size):
            cols = np.arange(j, min(j + block_size, n))
            d2 = _tile(x_part, norms[part], np.asarray(x[j : j + len(cols)], np.float64), norms[j : j + len(cols)])
            candidate = (d2 <= limit[s : s + len(part), None]) & (part[:, None] != cols[None, :])
            r, c = np.nonzero(candidate)
            exact = np.full(d2.shape, np.inf)
            exact[r, c] = exact_squared_distances(x, x, part[r], cols[c])
            best[s : s + len(part)] = _keep_smallest(best[s : s + len(part)], exact, k)
    return np.sort(best, axis=1)


def kth_neighbour_radii(x: np.ndarray, ks, block_size: int = DEFAULT_BLOCK_SIZE) -> dict[int, np.ndarray]:
    """``{k: exact squared distance from each row of x to its k-th nearest other row}`` for every
    k in ``ks``, from one pass over the pairs."""
    ks = sorted(set(ks))
    nearest = nearest_neighbour_distances(x, ks[-1], block_size)
    return {k: nearest[:, k - 1].copy() for k in ks}
