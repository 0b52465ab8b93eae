"""KID (Bińkowski et al. 2018) against the unbiased MMD^2 written as loops over pairs and through
the kernel's explicit feature map, its closed form for identical sets, and the subsets it averages
over."""

import importlib
import inspect

import numpy as np
import pytest

from sagan_tf.evaluation.metrics import kid
from sagan_tf.evaluation.metrics.kernel_distance import kid_subsets, polynomial_kernel


def loop_kernel(a, b):
    return (float(np.dot(a, b)) / len(a) + 1.0) ** 3


def loop_mmd2(x, y):
    """Gretton et al. 2012, eq. 3, one pair at a time."""
    m, n = len(x), len(y)
    xx = sum(loop_kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(loop_kernel(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(loop_kernel(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def feature_map(x):
    """phi(x) with phi(x) . phi(y) = (x . y / d + 1)^3 = sum_j C(3, j) (x . y)^j / d^j: the tensor
    powers x^(j), flattened, scaled by sqrt(C(3, j) / d^j)."""
    n, d = x.shape
    parts, power = [np.ones((n, 1))], np.ones((n, 1))
    for j, binomial in ((1, 3), (2, 3), (3, 1)):
        power = (power[:, :, None] * x[:, None, :]).reshape(n, -1)
        parts.append(np.sqrt(binomial / d**j) * power)
    return np.concatenate(parts, axis=1)


def feature_map_mmd2(x, y):
    """Gretton et al.'s eq. 3 through the feature map: sum_{i != i'} k(x_i, x_i') = |sum_i phi(x_i)|^2
    - sum_i |phi(x_i)|^2, sum_{i, j} k(x_i, y_j) = sum_i phi(x_i) . sum_j phi(y_j); no kernel matrix."""
    fx, fy = feature_map(np.asarray(x, np.float64)), feature_map(np.asarray(y, np.float64))
    m, n = len(fx), len(fy)
    sx, sy = fx.sum(axis=0), fy.sum(axis=0)
    xx = (sx @ sx - (fx * fx).sum()) / (m * (m - 1))
    yy = (sy @ sy - (fy * fy).sum()) / (n * (n - 1))
    return xx + yy - 2 * (sx @ sy) / (m * n)


@pytest.fixture(scope="module")
def sets():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 6)), rng.normal(size=(30, 6)) * 1.3 + 0.4


def test_kernel_is_the_cubic_polynomial():
    x, y = np.array([[1.0, 2.0]]), np.array([[3.0, -1.0], [0.0, 0.0]])
    np.testing.assert_allclose(polynomial_kernel(x, y), [[(1 / 2 + 1) ** 3, 1.0]])


def test_sets_no_larger_than_a_subset_are_one_subset_of_everything(sets):
    """Unequal sizes (40 and 30) are fine: each within-set sum has its own normaliser."""
    real, fake = sets
    mean, std = kid(real, fake, subset_size=40, num_subsets=100, seed=3)
    assert mean == pytest.approx(loop_mmd2(real, fake), rel=1e-10) and std == 0.0
    assert isinstance(mean, float) and isinstance(std, float)
    assert mean > 0.05  # the clouds differ in mean and scale
    [(r, f)] = kid_subsets(40, 30, 40, 100, seed=3)
    assert r.tolist() == list(range(40)) and f.tolist() == list(range(30))


def test_identical_sets_give_the_closed_form_at_or_below_zero(sets):
    """For x = y: MMD^2_u = 2/n^2 (S_off / (n - 1) - S_diag) <= 0, with S_off the off-diagonal and
    S_diag the diagonal sum of the kernel matrix."""
    x = sets[0]
    n = len(x)
    s_diag = sum(loop_kernel(x[i], x[i]) for i in range(n))
    s_off = sum(loop_kernel(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    expected = 2 / n**2 * (s_off / (n - 1) - s_diag)
    mean, std = kid(x, x)
    assert mean == pytest.approx(expected, rel=1e-10) and expected <= 0 and std == 0.0


def test_subsets_draw_distinct_indices_reproducibly():
    subsets = kid_subsets(50, 35, subset_size=20, num_subsets=7, seed=11)
    assert len(subsets) == 7
    for r, f in subsets:
        assert len(r) == len(set(r.tolist())) == 20 and len(f) == len(set(f.tolist())) == 20  # no repeats
        assert 0 <= r.min() and r.max() < 50 and 0 <= f.min() and f.max() < 35
    assert len({tuple(r) for r, _ in subsets}) == 7  # the subsets differ from each other
    again = kid_subsets(50, 35, subset_size=20, num_subsets=7, seed=11)
    assert all((a == c).all() and (b == d).all() for (a, b), (c, d) in zip(subsets, again, strict=True))
    assert not (kid_subsets(50, 35, 20, 7, seed=12)[0][0] == subsets[0][0]).all()
    # As documented: numpy's default_rng(seed), real then fake indices for each subset in turn.
    rng = np.random.default_rng(11)
    for r, f in subsets:
        np.testing.assert_array_equal(r, rng.choice(50, 20, replace=False))
        np.testing.assert_array_equal(f, rng.choice(35, 20, replace=False))


def test_a_set_smaller_than_the_subset_size_is_taken_whole_in_every_subset():
    for r, f in kid_subsets(50, 12, subset_size=20, num_subsets=4, seed=0):
        assert len(set(r.tolist())) == 20 and sorted(f.tolist()) == list(range(12))


def test_mean_and_std_over_subsets_are_numpy_of_the_per_subset_values(sets):
    real, fake = sets
    per_subset = [loop_mmd2(real[r], fake[f]) for r, f in kid_subsets(40, 30, 15, 6, seed=5)]
    mean, std = kid(real, fake, subset_size=15, num_subsets=6, seed=5)
    assert mean == pytest.approx(np.mean(per_subset), rel=1e-10)
    assert std == pytest.approx(np.std(per_subset), rel=1e-8) and std > 0


@pytest.mark.parametrize("real,fake,kwargs,message", [
    (np.zeros((1, 3)), np.zeros((5, 3)), {}, "at least 2 real"),
    (np.zeros((5, 3)), np.zeros((5, 4)), {}, "differ in dimension"),
    (np.zeros((5, 3)), np.full((5, 3), np.inf), {}, "NaN or infinity"),
    (np.zeros((5, 3, 1)), np.zeros((5, 3)), {}, "2-D"),
    (np.zeros((5, 3)), np.zeros((5, 3)), {"subset_size": 1}, "subset_size must be >= 2"),
    (np.zeros((5, 3)), np.zeros((5, 3)), {"num_subsets": 0}, "num_subsets must be an integer >= 1"),
])
def test_bad_inputs_are_one_value_error(real, fake, kwargs, message):
    with pytest.raises(ValueError, match=message):
        kid(real, fake, **kwargs)


def test_the_feature_map_gives_the_kernel():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    np.testing.assert_allclose(feature_map(x) @ feature_map(y).T, [[loop_kernel(a, b) for b in y] for a in x], rtol=1e-12)


def test_duplicated_rows_are_samples_of_their_own():
    """Rows repeated within a set, and generated rows that copy real ones, are distinct samples: the
    pairs i != i' of equal rows count with k(x, x) in the within-set sums (by index, not by value)."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(12, 5))
    real = np.concatenate([base, base[:4], base[:4]])  # 20 rows, 4 of them three times
    fake = np.concatenate([base[2:8], rng.normal(size=(6, 5)) + 0.5, base[2:5]])  # copies of real rows, 3 twice
    mean, std = kid(real, fake)  # the defaults: neither set is larger than 1000, one subset of all rows
    assert mean == pytest.approx(loop_mmd2(real, fake), rel=1e-10) and std == 0.0
    assert mean == pytest.approx(feature_map_mmd2(real, fake), rel=1e-9)
    deduplicated = loop_mmd2(np.unique(real, axis=0), np.unique(fake, axis=0))
    assert abs(mean - deduplicated) > 1e-3  # the duplicates change the value


def test_the_documented_defaults():
    """subset_size 1000, num_subsets 100, seed 0; when neither set is larger than the subset size
    the whole sets are one subset (std 0.0); otherwise 100 subsets, each min(1000, N) real and
    min(1000, M) fake rows drawn without replacement by numpy's default_rng(0), real then fake."""
    defaults = {name: p.default for name, p in inspect.signature(kid).parameters.items() if name in ("subset_size", "num_subsets", "seed")}
    assert defaults == {"subset_size": 1000, "num_subsets": 100, "seed": 0}
    rng = np.random.default_rng(6)
    real, fake = rng.normal(size=(1001, 3)), rng.normal(size=(40, 3)) * 1.2 + 0.3

    mean, std = kid(real[:1000], fake)  # 1000 and 40: one subset of everything
    assert mean == pytest.approx(feature_map_mmd2(real[:1000], fake), rel=1e-8) and std == 0.0

    draw, per_subset = np.random.default_rng(0), []
    for _ in range(100):
        r, f = draw.choice(1001, 1000, replace=False), draw.choice(40, 40, replace=False)
        per_subset.append(feature_map_mmd2(real[r], fake[f]))
    mean, std = kid(real, fake)  # 1001 > 1000: 100 subsets
    assert mean == pytest.approx(np.mean(per_subset), rel=1e-8)
    assert std == pytest.approx(np.std(per_subset), rel=1e-5) and std > 0
    assert len(kid_subsets(1001, 40)) == 100 and len(kid_subsets(1000, 1000)) == 1


def test_the_module_is_not_shadowed_by_the_function():
    """``sagan_tf.evaluation.metrics.kid`` is the function; its module is ``kernel_distance``."""
    module = importlib.import_module("sagan_tf.evaluation.metrics.kernel_distance")
    metrics = importlib.import_module("sagan_tf.evaluation.metrics")
    assert metrics.kid is module.kid is kid and callable(metrics.kid)
    assert module.kid_subsets is kid_subsets and module.__name__.endswith(".kernel_distance")
