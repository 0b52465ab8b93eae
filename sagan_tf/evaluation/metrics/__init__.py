"""Sample-quality metrics: Inception Score, FID and intra-FID of SAGAN section 5, domain feature
models, and the metrics of raw feature sets: KID (``kernel_distance``), precision/recall and
density/coverage (``manifold``, on the distances of ``distances``). Features come
from Keras' InceptionV3 (``inception``), the 2015 Inception graph of published tables
(``inception_graph``, ``inception_download``) or a domain classifier (``feature_model``), with the
TF or clean-fid resize (``resize``)."""

from sagan_tf.evaluation.metrics.fid import (
    ClassStatsAccumulator,
    GaussianStats,
    StatsAccumulator,
    frechet_distance,
    intra_fid,
)
from sagan_tf.evaluation.metrics.inception_score import inception_score, inception_score_from_probs
from sagan_tf.evaluation.metrics.kernel_distance import kid
from sagan_tf.evaluation.metrics.manifold import density_coverage, manifold_metrics, precision_recall
from sagan_tf.evaluation.metrics.reference_file import load_reference_stats, save_reference_stats

__all__ = [
    "ClassStatsAccumulator",
    "GaussianStats",
    "StatsAccumulator",
    "density_coverage",
    "frechet_distance",
    "inception_score",
    "inception_score_from_probs",
    "intra_fid",
    "kid",
    "load_reference_stats",
    "manifold_metrics",
    "precision_recall",
    "save_reference_stats",
]
