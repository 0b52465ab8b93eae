"""KID (Bińkowski et al. 2018) against the unbiased MMD^2 written as loops over pairs, its closed
form for identical sets, and the subsets it averages over."""

import numpy as np
import pytest

from sagan_tf.evaluation.metrics import kid
from sagan_tf.evaluation.metrics.kid import kid_subsets, polynomial_kernel


def loop_kernel(a, b):
    return (float(np.dot(a, b)) / len(a) + 1.0) ** 3


def loop_mmd2(x, y):
    """Gretton et al. 2012, eq. 3, one pair at a time."""
    m, n = len(x), len(y)
    xx = sum(loop_kernel(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(loop_kernel(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(loop_kernel(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


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
