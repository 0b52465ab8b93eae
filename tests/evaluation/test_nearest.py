"""The memorisation check's search (``evaluation.nearest``) against brute force, on a generator that
returns training images (rate 1), one that draws noise (rate 0), and 60,000 training rows in
bounded memory."""

import tracemalloc

import numpy as np
import pytest

from sagan_tf.evaluation.nearest import VectorStore, nearest, search, summary


def brute_force(queries, training, k, exclude=None):
    d = np.sqrt(((queries[:, None, :].astype(np.float64) - training[None, :, :]) ** 2).sum(-1))
    if exclude is not None:
        d[np.arange(len(queries)), exclude] = np.inf
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d, order, 1)


def test_nearest_matches_brute_force_across_blocks(tmp_path):
    rng = np.random.default_rng(0)
    training = rng.normal(size=(1000, 12)).astype(np.float32)
    queries = rng.normal(size=(37, 12)).astype(np.float32)
    with VectorStore(str(tmp_path)) as store:
        for start in range(0, 1000, 128):  # batches of another size than the search's blocks
            store.add(training[start:start + 128])
        stored = store.array()
        assert stored.shape == (1000, 12) and np.array_equal(stored, training)
        indices, distances = nearest(queries, stored, k=3, block=300)
    want_i, want_d = brute_force(queries, training, 3)
    assert np.array_equal(indices, want_i)
    assert distances == pytest.approx(want_d, rel=1e-9, abs=1e-6)
    # Excluding itself: each training row's nearest other row.
    rows = np.array([5, 999, 300])
    i, d = nearest(training[rows], training, 1, block=300, exclude=rows)
    want_i, want_d = brute_force(training[rows], training, 1, exclude=rows)
    assert np.array_equal(i, want_i) and d == pytest.approx(want_d, rel=1e-9)


def test_copies_of_training_images_score_one_noise_scores_zero_and_heldout_lies_between():
    rng = np.random.default_rng(1)
    training = rng.normal(size=(3000, 8))
    copies = training[rng.choice(3000, 200, replace=False)]
    noise = rng.uniform(-1, 1, size=(200, 8)) * 40 + 100  # far from every training image
    heldout = rng.normal(size=(200, 8))  # fresh draws of the training distribution
    for queries, lo, hi in ((copies, 1.0, 1.0), (noise, 0.0, 0.0)):
        report = summary(search(np.concatenate([queries, heldout]), training), len(queries))
        assert lo <= report["memorisation_rate"] <= hi
        assert 0.1 < report["heldout_rate"] < 0.9
    result = search(copies, training)
    assert np.all(result.distances[:, 0] == 0) and np.all(result.neighbour_radius > 0)
    # r(x*) is x*'s distance to its nearest other training image, by brute force:
    _, want = brute_force(training[result.indices[:, 0]], training, 1, exclude=result.indices[:, 0])
    assert result.neighbour_radius == pytest.approx(want[:, 0], rel=1e-9)


def test_sixty_thousand_training_images_in_bounded_memory(tmp_path):
    """60,000 training rows of dimension 256 (61 MB on disk) against 200 queries: the Python heap
    never holds the training set, nor the 200 x 60,000 distances (96 MB)."""
    rng = np.random.default_rng(2)
    n, dim = 60000, 256
    with VectorStore(str(tmp_path)) as store:
        for _ in range(n // 5000):
            store.add(rng.normal(size=(5000, dim)).astype(np.float32))
        training = store.array()
        queries = np.concatenate([np.asarray(training[rng.choice(n, 100, replace=False)]),
                                  rng.normal(size=(100, dim)).astype(np.float32) + 50])
        tracemalloc.start()
        result = search(queries, training)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 48 * 2**20, peak / 2**20
    assert result.rate(slice(0, 100)) == 1.0 and result.rate(slice(100, None)) == 0.0
