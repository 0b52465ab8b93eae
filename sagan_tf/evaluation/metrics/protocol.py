"""The ``protocol`` object of a ``sagan-evaluate`` result: what its numbers depend on besides the
weights, so that two results can be compared (equal protocols) or told apart.

    {
      "feature_network": {"name", "weights", "sha256", "dim"},
      "resize": how generated and real images are resized for the feature network,
      "generator": {"weights": "ema" | "raw", "name", "checkpoint", "step", "pretrained", "truncation",
                    "export": null | {"path", "version"}},
      "num_generated", "labels": "balanced", "seed",
      "num_reference", "reference": {"source": "dataset", "dataset", "split", "preparation": {..}}
                                  | {"source": "file", "file", "sha256"} | null,
      "k_precision_recall", "k_density_coverage", "kid_subset_size", "kid_subsets"
    }

``feature_network.name`` is ``keras-inception-v3-imagenet`` (Keras' InceptionV3), ``inception-2015-12-05``
(the 2015 graph of published tables) or a feature model file's name; ``sha256`` is the whole
SHA-256 of the weights, graph or model file (null for Keras' ``imagenet`` download and for
``random`` weights); ``resize`` says how images reach the network (``tf`` or ``clean`` modes of
``resize``). The k values and KID's subsets are null when no metric used them. ``truncation`` is
null when z is drawn from N(0, I) untruncated (``samplers.LatentSampler``), else the t of the
truncation trick (``samplers.SeedSampler``); ``export`` names the exported SavedModel
(``sagan-evaluate --model``) whose signatures drew the images, null for a run's Keras generator.
"""

from __future__ import annotations

from pathlib import Path

from sagan_tf.config import DataConfig
from sagan_tf.evaluation.metrics.manifold import MANIFOLD_METRICS
from sagan_tf.training.ema import SHADOW_NAME


def dataset_reference(data: DataConfig, split: str) -> dict:
    """The ``reference`` of real images read from the run's dataset, prepared as for training."""
    return {
        "source": "dataset",
        "dataset": data.dataset(),
        "split": split,
        "preparation": {
            "resolution": data.resolution,
            "channels": data.channels,
            "resize": data.resize,
            "center_crop": data.center_crop,
        },
    }


def file_reference(path: str | Path, sha256: str) -> dict:
    """The ``reference`` of statistics read from an ``.npz`` file."""
    return {"source": "file", "file": str(Path(path).resolve()), "sha256": sha256}


def generator_description(name: str, logdir: str | Path, checkpoint: str | None, step: int | None,
                          pretrained: str | None = None, truncation: float | None = None,
                          export: dict | None = None) -> dict:
    """Which generator: the EMA or the raw G (from its ``name``), its checkpoint (relative to the run
    when inside it, so that copies of a run compare equal), its step, the shipped name if any, the
    truncation of z (None: untruncated) and the export it was read from (``{"path", "version"}``)."""
    shown = None
    if checkpoint:
        try:
            shown = str(Path(checkpoint).resolve().relative_to(Path(logdir).resolve()))
        except ValueError:
            shown = str(checkpoint)
    return {
        "weights": "ema" if name == SHADOW_NAME else "raw",
        "name": name,
        "checkpoint": shown,
        "step": step,
        "pretrained": pretrained,
        "truncation": truncation,
        "export": export,
    }


def evaluation_protocol(
    *,
    feature_network: dict,
    generator: dict,
    num_generated: int,
    reference: dict | None,
    num_reference: int | None,
    seed: int,
    metrics,
    options,
) -> dict:
    """The protocol object (module docstring); ``feature_network`` is the extractor's ``describe()``,
    ``options`` the ``statistics.FeatureSetOptions`` of the feature-set metrics."""
    network = {k: v for k, v in feature_network.items() if k != "resize"}
    pr = any(m in metrics for m in ("precision", "recall"))
    dc = any(m in metrics for m in MANIFOLD_METRICS if m not in ("precision", "recall"))
    return {
        "feature_network": network,
        "resize": feature_network.get("resize"),
        "generator": generator,
        "num_generated": num_generated,
        "labels": "balanced",
        "seed": seed,
        "num_reference": num_reference,
        "reference": reference,
        "k_precision_recall": options.k_pr if pr else None,
        "k_density_coverage": options.k_dc if dc else None,
        "kid_subset_size": options.kid_subset_size if "kid" in metrics else None,
        "kid_subsets": options.kid_subsets if "kid" in metrics else None,
    }
