"""Precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020) against
double loops over the points, hand-computed sets, and blocked == unblocked."""

import numpy as np
import pytest

from sagan_tf.evaluation.metrics import density_coverage, manifold_metrics, precision_recall


def loop_radii(x, k):
    """Distance from each point to its k-th nearest other point, by a loop over all pairs."""
    radii = []
    for i in range(len(x)):
        others = sorted(float(np.linalg.norm(x[i] - x[j])) for j in range(len(x)) if j != i)
        radii.append(others[k - 1])
    return radii


def loop_metrics(real, fake, k_pr, k_dc):
    """The four definitions with explicit loops over the points."""
    r_pr, f_pr, r_dc = loop_radii(real, k_pr), loop_radii(fake, k_pr), loop_radii(real, k_dc)
    dist = [[float(np.linalg.norm(x - y)) for y in fake] for x in real]
    n, m = len(real), len(fake)
    precision = sum(any(dist[i][j] <= r_pr[i] for i in range(n)) for j in range(m)) / m
    recall = sum(any(dist[i][j] <= f_pr[j] for j in range(m)) for i in range(n)) / n
    density = sum(dist[i][j] <= r_dc[i] for i in range(n) for j in range(m)) / (k_dc * m)
    coverage = sum(min(dist[i]) <= r_dc[i] for i in range(n)) / n
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.fixture(scope="module")
def clouds():
    """60 real points and 45 fake ones, partly overlapping (the fake cloud is shifted and narrower)."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 5)), rng.normal(size=(45, 5)) * 0.7 + [1.0, 0, 0, 0, 0]


@pytest.mark.parametrize("k_pr,k_dc", [(3, 5), (1, 1), (4, 2)])
def test_all_four_equal_the_loop_definitions(clouds, k_pr, k_dc):
    real, fake = clouds
    got = manifold_metrics(real, fake, k_pr=k_pr, k_dc=k_dc)
    expected = loop_metrics(real, fake, k_pr, k_dc)
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1 and 0 < got["coverage"] < 1  # not trivial


@pytest.mark.parametrize("block_size", [1, 2, 7])
def test_blocked_equals_one_tile(clouds, block_size):
    real, fake = clouds
    whole = manifold_metrics(real, fake, block_size=4096)
    assert manifold_metrics(real, fake, block_size=block_size) == whole
    assert precision_recall(real, fake, 3, block_size) == (whole["precision"], whole["recall"])
    assert density_coverage(real, fake, 5, block_size) == (whole["density"], whole["coverage"])


def test_a_subset_of_metrics_gives_the_same_values(clouds):
    real, fake = clouds
    full = manifold_metrics(real, fake)
    assert manifold_metrics(real, fake, ["coverage", "recall"]) == {"coverage": full["coverage"], "recall": full["recall"]}


def test_hand_built_one_dimensional_sets():
    """real 0, 1, 3, 7 (k=1 radii 1, 1, 2, 4); fake 0.4, 0.6, 5.5, 20 (radii 0.2, 0.2, 4.9, 14.5).

    precision: 0.4, 0.6 in B(0, 1); 5.5 in B(7, 4); 20 in none -> 3/4.
    recall: 0 is 0.4 from 0.4 (> 0.2), 5.5 from 5.5 (> 4.9), 20 from 20 (> 14.5): out; 1, 3, 7 are
    within 4.9 of 5.5 -> 3/4.
    density: 0.4 and 0.6 lie in B(0, 1) and B(1, 1), 5.5 in B(7, 4) -> 5 / (1 * 4) = 1.25.
    coverage: 3's nearest fake is 2.4 away (> 2); 0, 1, 7 hold one -> 3/4.
    """
    real, fake = np.array([[0.0], [1.0], [3.0], [7.0]]), np.array([[0.4], [0.6], [5.5], [20.0]])
    assert precision_recall(real, fake, k=1) == (0.75, 0.75)
    assert density_coverage(real, fake, k=1) == (1.25, 0.75)


def test_balls_are_closed():
    """real 0 and 2 (k=1 radius 2 each): a fake point at 4 is exactly on the ball of 2 (and only
    on that one: density 1 / (1 * 1); 0 holds no fake, 2 does: coverage 1/2)."""
    real = np.array([[0.0], [2.0]])
    assert precision_recall(real, np.array([[4.0], [4.5]]), k=1)[0] == 0.5
    assert density_coverage(real, np.array([[4.0]]), k=1) == (1.0, 0.5)


def test_identical_sets_and_far_apart_clouds():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 8)).astype(np.float32)
    assert precision_recall(x, x) == (1.0, 1.0)
    assert density_coverage(x, x)[1] == 1.0
    far = x + 1000.0
    assert precision_recall(x, far) == (0.0, 0.0)
    assert density_coverage(x, far) == (0.0, 0.0)


def test_density_of_one_distribution_is_near_one():
    """Naeem et al.: E[density] = 1 when real and fake share a distribution."""
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(600, 4)), rng.normal(size=(600, 4))
    density, coverage = density_coverage(real, fake)
    assert density == pytest.approx(1.0, abs=0.1) and coverage > 0.9


@pytest.mark.parametrize("real,fake,kwargs,message", [
    (np.zeros(5), np.zeros((5, 2)), {}, "2-D"),
    (np.zeros((5, 2)), np.zeros((5, 3)), {}, "differ in dimension"),
    (np.zeros((5, 2)), np.full((5, 2), np.nan), {}, "NaN"),
    (np.zeros((3, 2)), np.zeros((9, 2)), {}, "at least 4 real"),
    (np.zeros((9, 2)), np.zeros((3, 2)), {}, "at least 4 fake"),
    (np.zeros((9, 2)), np.zeros((9, 2)), {"k": 0}, "k_pr must be an integer >= 1"),
    (np.zeros((9, 2)), np.zeros((9, 2)), {"k": 2.5}, "k_pr must be an integer"),
])
def test_bad_inputs_are_one_value_error(real, fake, kwargs, message):
    with pytest.raises(ValueError, match=message):
        precision_recall(real, fake, **kwargs)


def test_density_coverage_needs_k_plus_one_real_points_only():
    # 0.5 lies in both real balls (radius 1): density 2 / (1 * 1), both are covered
    assert density_coverage(np.array([[0.0], [1.0]]), np.array([[0.5]]), k=1) == (2.0, 1.0)
    with pytest.raises(ValueError, match="at least 6 real"):
        density_coverage(np.zeros((5, 2)), np.zeros((50, 2)))
    with pytest.raises(ValueError, match="subset of precision"):
        manifold_metrics(np.zeros((9, 2)), np.zeros((9, 2)), ["fid"])
