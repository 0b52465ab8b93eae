"""Nearest training images of generated images, and a memorisation rate, in bounded memory.

The check of whether a generator copies its training data (Alaa et al. 2022, "How Faithful is your
Synthetic Data?", section 3: a sample is *unauthentic* when it is closer to its nearest training
sample than that training sample is to its own nearest neighbour among the training data):

* for each query q (a generated image; or a held-out real image, the baseline), its nearest
  training image x*(q) and the distance d(q) = |q - x*(q)|;
* for x*, the distance r(x*) to its nearest *other* training image;
* q is **closer than the training images are to each other** when d(q) < r(x*(q)).

The memorisation rate is the share of generated images for which that holds. A generator that
returns training images scores 1 (d = 0), one that draws far from the data 0. A generator that
neither copies nor misses behaves like held-out real images of the same distribution, so the rate
of held-out real images is reported beside it as the level to compare with (it is not 0: a fresh
real image often lies closer to some training image than that image's neighbours do).

The k nearest are found with the expanded formula |q|^2 + |x|^2 - 2 q.x on float64 copies of each
block (clipped at 0), and their distances then recomputed from the differences, so a copy is at
exactly 0 and its x* is closer to it than to any other distinct training image.

Memory: the training vectors are written once to a file (``VectorStore``, read back as a memory
map), and distances are taken ``block`` training rows at a time against all queries, so memory is
O(queries x block + block x dim), never O(training^2) or all training vectors in RAM.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable

import numpy as np

BLOCK = 4096  # training rows per distance block


class VectorStore:
    """Rows of float32 vectors appended batch by batch to a file, then read as a memory map."""

    def __init__(self, directory: str | None = None):
        handle, self.path = tempfile.mkstemp(suffix=".f32", dir=directory)
        self.file = os.fdopen(handle, "wb")
        self.dim: int | None = None
        self.count = 0

    def add(self, rows) -> None:
        rows = np.ascontiguousarray(np.asarray(rows, np.float32).reshape(len(rows), -1))
        if self.dim is None:
            self.dim = rows.shape[1]
        elif rows.shape[1] != self.dim:
            raise ValueError(f"rows of dimension {rows.shape[1]} added to a store of dimension {self.dim}")
        rows.tofile(self.file)
        self.count += len(rows)

    def array(self) -> np.ndarray:
        """The rows as a read-only (count, dim) memory map."""
        self.file.flush()
        if not self.count:
            return np.zeros((0, self.dim or 0), np.float32)
        return np.memmap(self.path, np.float32, "r", shape=(self.count, self.dim))

    def close(self) -> None:
        self.file.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def nearest(queries: np.ndarray, training: np.ndarray, k: int = 1, block: int = BLOCK,
            exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances), each (len(queries), k): the ``k`` nearest training rows of each query,
    nearest first, scanning ``training`` ``block`` rows at a time. ``exclude[i]``: a training index
    query i may not take (itself, when the queries are training rows)."""
    queries = np.asarray(queries, np.float64)
    m, n = len(queries), len(training)
    k = min(k, n - (exclude is not None))
    if k < 1:
        raise ValueError(f"the nearest-neighbour search needs at least {1 + (exclude is not None)} training rows, got {n}")
    best_d = np.full((m, k), np.inf)
    best_i = np.full((m, k), -1, np.int64)
    q_norms = np.einsum("ij,ij->i", queries, queries)
    for start in range(0, n, block):
        part = np.asarray(training[start : start + block], np.float64)
        d2 = q_norms[:, None] + np.einsum("ij,ij->i", part, part)[None, :] - 2.0 * queries @ part.T
        np.maximum(d2, 0.0, out=d2)
        index = np.arange(start, start + len(part))
        if exclude is not None:
            d2[exclude[:, None] == index[None, :]] = np.inf
        take = min(k, len(part))
        cand = np.argpartition(d2, take - 1, axis=1)[:, :take]
        all_d = np.concatenate([best_d, np.take_along_axis(d2, cand, 1)], axis=1)
        all_i = np.concatenate([best_i, index[cand]], axis=1)
        order = np.argsort(all_d, axis=1, kind="stable")[:, :k]
        best_d, best_i = np.take_along_axis(all_d, order, 1), np.take_along_axis(all_i, order, 1)
    best_d = exact_distances(queries, training, best_i)
    order = np.argsort(best_d, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, 1), np.take_along_axis(best_d, order, 1)


def exact_distances(queries: np.ndarray, training: np.ndarray, indices: np.ndarray, chunk: int = 256) -> np.ndarray:
    """|q_i - x_indices[i, j]| from the differences themselves (a copy is at exactly 0, which the
    expanded formula misses by rounding), ``chunk`` queries at a time."""
    out = np.empty(indices.shape, np.float64)
    for start in range(0, len(queries), chunk):
        rows = indices[start : start + chunk]
        neighbours = np.asarray(training[rows.reshape(-1)], np.float64).reshape(*rows.shape, -1)
        out[start : start + chunk] = np.sqrt(((queries[start : start + chunk, None, :] - neighbours) ** 2).sum(-1))
    return out


@dataclasses.dataclass
class NearestResult:
    """Per query: its k nearest training indices and distances, and r(x*) of its nearest."""

    indices: np.ndarray  # (queries, k)
    distances: np.ndarray  # (queries, k)
    neighbour_radius: np.ndarray  # (queries,): r(x*(q)), x*'s distance to its nearest other training row

    @property
    def closer(self) -> np.ndarray:
        """Whether each query is closer to x* than x* is to the rest of the training set."""
        return self.distances[:, 0] < self.neighbour_radius

    def rate(self, rows: slice | np.ndarray = slice(None)) -> float:
        return float(self.closer[rows].mean())


def search(queries: np.ndarray, training: np.ndarray, k: int = 3, block: int = BLOCK) -> NearestResult:
    """The ``k`` nearest training rows of every query, and r(x*) of each query's nearest (module
    docstring), by two scans of ``training``."""
    indices, distances = nearest(queries, training, k, block)
    unique, inverse = np.unique(indices[:, 0], return_inverse=True)
    if len(training) < 2:
        raise ValueError("the memorisation check needs at least 2 training images")
    _, radius = nearest(np.asarray(training[unique]), training, 1, block, exclude=unique)
    return NearestResult(indices, distances, radius[:, 0][inverse])


def summary(result: NearestResult, generated: int) -> dict:
    """The report of one space: rates and median distances of the generated queries (the first
    ``generated``) and of the held-out real ones (the rest, if any)."""
    gen, held = slice(0, generated), slice(generated, None)
    out = {
        "memorisation_rate": result.rate(gen),
        "median_distance": float(np.median(result.distances[gen, 0])),
        "median_training_neighbour_distance": float(np.median(result.neighbour_radius[gen])),
    }
    if len(result.closer) > generated:
        out["heldout_rate"] = result.rate(held)
        out["heldout_median_distance"] = float(np.median(result.distances[held, 0]))
    return out


def scan(batches: Iterable, stores: dict[str, VectorStore]) -> None:
    """Writes each batch's vectors of every space (``{space: rows}``) into that space's store."""
    for batch in batches:
        for space, rows in batch.items():
            stores[space].add(rows)
