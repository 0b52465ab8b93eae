"""Sample-quality metrics of SAGAN section 5: Inception Score, FID, intra-FID, domain feature models."""

from sagan_tf.evaluation.metrics.fid import (
    ClassStatsAccumulator,
    GaussianStats,
    StatsAccumulator,
    frechet_distance,
    intra_fid,
)
from sagan_tf.evaluation.metrics.inception_score import inception_score, inception_score_from_probs

__all__ = [
    "ClassStatsAccumulator",
    "GaussianStats",
    "StatsAccumulator",
    "frechet_distance",
    "inception_score",
    "inception_score_from_probs",
    "intra_fid",
]
