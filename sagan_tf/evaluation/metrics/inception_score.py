"""Inception Score (Salimans et al. 2016), SAGAN section 5: exp(E_x KL(p(y|x) || p(y))).

Computed as the reference implementation (``openai/improved-gan``, ``inception_score/model.py``)
does: the samples are cut into ``splits`` consecutive parts, the score is computed on each part
with that part's marginal p(y), and the mean and standard deviation over the parts are reported.
"""

from __future__ import annotations

import numpy as np
import scipy.special


def inception_score_from_probs(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of the score over ``splits`` consecutive parts of ``probs`` (N, classes)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must be (samples, classes), got shape {p.shape}")
    if not 1 <= splits <= p.shape[0]:
        raise ValueError(f"splits must be in [1, {p.shape[0]}] for {p.shape[0]} samples, got {splits}")
    scores = []
    n = p.shape[0]
    for k in range(splits):
        part = p[k * n // splits : (k + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        # KL(p || marginal) per sample; xlogy makes 0 log 0 = 0 (one-hot rows).
        kl = (scipy.special.xlogy(part, part) - scipy.special.xlogy(part, marginal)).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """The score from classifier logits (softmax in float64)."""
    return inception_score_from_probs(scipy.special.softmax(np.asarray(logits, np.float64), axis=1), splits)
