"""Precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020) against
double loops over the points, hand-computed sets, a brute-force computation on sets with exact
copies (whatever the block size), and blocked == unblocked."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

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


def brute_force_metrics(real, fake, k_pr=3, k_dc=5):
    """The four definitions on whole float64 matrices of squared distances from scipy's cdist (one
    loop of sum((a - b)^2) per pair, so identical pairs give identical values), each point's
    radius by sorting its row with the point itself removed by index; balls closed."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)

    def radii(x, k):
        d2 = cdist(x, x, "sqeuclidean")
        np.fill_diagonal(d2, np.inf)
        return np.sort(d2, axis=1)[:, k - 1]

    d2 = cdist(real, fake, "sqeuclidean")
    in_pr, in_dc = d2 <= radii(real, k_pr)[:, None], d2 <= radii(real, k_dc)[:, None]
    return {
        "precision": float(in_pr.any(axis=0).mean()),
        "recall": float((d2 <= radii(fake, k_pr)[None, :]).any(axis=1).mean()),
        "density": float(in_dc.sum() / (k_dc * len(fake))),
        "coverage": float(in_dc.any(axis=1).mean()),
    }


def sets_with_copies(seed, dim=16):
    """Real: 80 points (offset 3, so |a|^2 + |b|^2 - 2ab cancels), 20 of them present twice and one
    present 24 times (more than the 2k + 8 neighbours kept per point: radius 0, found by the second
    scan); fake: 60 copies of real points (with repeats), 12 copies of the 24-fold point, 20 new."""
    rng = np.random.default_rng(seed)
    base = (rng.normal(size=(80, dim)) + 3).astype(np.float32)
    real = np.concatenate([base, base[rng.choice(80, 20, replace=False)], np.repeat(base[:1], 23, axis=0)])
    real = real[rng.permutation(len(real))]
    fake = np.concatenate([real[rng.choice(len(real), 60)], np.repeat(base[:1], 12, axis=0),
                           (rng.normal(size=(20, dim)) + 3).astype(np.float32)])
    return real, fake[rng.permutation(len(fake))]


@pytest.mark.parametrize("block_size", [1, 7, 1024, 5000])
def test_copies_and_duplicates_equal_brute_force_whatever_the_block_size(block_size):
    """Generated samples that copy real ones sit exactly on balls' radii (a copy of a real point's
    k-th neighbour is at exactly its radius); the fast formula rounds the two equal distances in
    different tiles, so only an exact decision at the boundary equals the brute force."""
    for seed in (0, 1):
        real, fake = sets_with_copies(seed)
        assert manifold_metrics(real, fake, block_size=block_size) == brute_force_metrics(real, fake)
    expected = brute_force_metrics(real, fake, k_pr=1, k_dc=2)
    assert precision_recall(real, fake, 1, block_size) == (expected["precision"], expected["recall"])
    assert density_coverage(real, fake, 2, block_size) == (expected["density"], expected["coverage"])


@pytest.mark.parametrize("seed", range(30))
def test_reviewers_repro_seeds_equal_brute_force(seed):
    """The review's reproduction: 300 real float32 points in 64-d, 150 generated copies of real
    points (drawn with replacement) and 50 new ones. Before the exact boundary decisions 27 of these
    60 cases differed from the brute force (density at block_size 7, and twice at 1024)."""
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(300, 64)).astype(np.float32)
    fake = np.concatenate([real[rng.choice(300, 150, replace=True)], rng.normal(size=(50, 64)).astype(np.float32)])
    expected = brute_force_metrics(real, fake)
    for block_size in (7, 1024):
        assert manifold_metrics(real, fake, block_size=block_size) == expected, block_size
    if seed == 0:  # the review's numbers: density 0.98 at block_size 7, 0.982 at 4096 and brute force
        assert expected["density"] == 0.982 and density_coverage(real, fake, block_size=7)[0] == 0.982


@pytest.mark.parametrize("block_size", [1, 7, 1024])
def test_a_generated_subset_of_the_real_set_has_precision_one_and_covers_its_own_balls(block_size):
    """fake = real[S]. Each y = x_s is at distance exactly 0 from x_s, inside the closed ball
    B(x_s, NND_k(x_s)) whatever its radius (0 too, for a point present more than k times), so:
    precision = 1; every real point equal to some x_s (at least the |S| distinct indices of S) has
    its ball covered, so coverage >= |{i: x_i == x_s for some s in S}| / N >= |S| / N; and each y
    lies in the balls of all real points equal to it, so density >= sum_j |{i: x_i == y_j}| / (k M).
    """
    rng = np.random.default_rng(7)
    base = (rng.normal(size=(100, 64)) + 3).astype(np.float32)
    # duplicates: 10 points twice, one point 7 times (radius 0 for k <= 6), one 3 times
    real = np.concatenate([base, base[:10], np.repeat(base[10:11], 6, axis=0), np.repeat(base[11:12], 2, axis=0)])
    real = real[rng.permutation(len(real))]
    n = len(real)
    subset = rng.choice(n, 50, replace=False)
    fake = real[subset]
    equal = (real[:, None, :] == fake[None, :, :]).all(axis=2)  # equal[i, j]: x_i == y_j
    assert equal.any(axis=1).sum() > len(subset)  # the duplicates add covered balls beyond |S|
    for k in (3, 5):
        got = manifold_metrics(real, fake, k_pr=k, k_dc=k, block_size=block_size)
        assert got["precision"] == 1.0
        assert got["coverage"] >= equal.any(axis=1).sum() / n >= len(subset) / n
        assert got["density"] >= equal.sum() / (k * len(fake))
        # and all four exactly as the brute force (copies of neighbours sit on radii)
        assert got == brute_force_metrics(real, fake, k, k)
