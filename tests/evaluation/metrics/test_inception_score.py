"""Inception Score on crafted probability vectors, with known values."""

import numpy as np
import pytest

from sagan_tf.evaluation.metrics.inception_score import inception_score, inception_score_from_probs


def test_uniform_predictions_score_one():
    mean, std = inception_score_from_probs(np.full((100, 10), 0.1), splits=10)
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("k", [1, 2, 7, 10])
def test_confident_predictions_over_k_equally_used_classes_score_k(k):
    probs = np.eye(10)[np.arange(10 * k) % k]
    mean, _ = inception_score_from_probs(probs, splits=10)
    assert mean == pytest.approx(k)


def test_splits_are_scored_separately():
    """First half: one class only (score 1); second half: two classes equally (score 2)."""
    probs = np.concatenate([np.eye(3)[np.zeros(4, int)], np.eye(3)[[1, 2, 1, 2]]])
    mean, std = inception_score_from_probs(probs, splits=2)
    assert (mean, std) == (pytest.approx(1.5), pytest.approx(0.5))
    assert inception_score_from_probs(probs, splits=1)[0] == pytest.approx(np.exp(-(0.5 * np.log(0.5) + 2 * 0.25 * np.log(0.25))))


def test_logits_give_the_softmax_score_and_bad_splits_fail():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 5)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    marginal = probs.mean(0)
    expected = np.exp(np.mean(np.sum(probs * (np.log(probs) - np.log(marginal)), axis=1)))
    assert inception_score(logits, splits=1)[0] == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="splits"):
        inception_score(logits, splits=51)
