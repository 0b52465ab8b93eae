"""Generators that ship with the package, to look at before training anything.

Each one is a directory shaped like a training run, holding only what sampling needs:
``config.yaml``, ``checkpoints/`` with the EMA generator alone (no D, no optimizer state),
``training.json`` (steps, wall-clock, hardware), ``evaluations/`` (the metrics measured on it, with
their protocol), ``MODEL_CARD.md`` and ``reference.json`` (a checksum of the weights and the images
of fixed seeds, which the tests compare with). Every verb that reads a run takes
``--pretrained NAME`` in place of ``--logdir RUN``: ``sagan-sample --pretrained fashion_mnist32
--out grid.png`` needs no dataset and no network. ``python -m sagan_tf.cli.build_pretrained`` makes one
from a run.

``feature_models/`` holds the domain classifiers the shipped generators' numbers were measured
with (``NAME.keras`` beside ``NAME.json``: its SHA-256, test accuracy and the command that made it);
``--feature-model pretrained:NAME`` (or ``feature_model(NAME)``) names one.
"""

from __future__ import annotations

from pathlib import Path

from sagan_tf.errors import SaganError

ROOT = Path(__file__).resolve().parent
REFERENCE_FILE = "reference.json"
FEATURE_MODELS = ROOT / "feature_models"
FEATURE_MODEL_PREFIX = "pretrained:"  # --feature-model pretrained:NAME


def names() -> list[str]:
    """The shipped generators (subdirectories with a ``config.yaml``)."""
    return sorted(p.name for p in ROOT.iterdir() if (p / "config.yaml").is_file())


def directory(name: str) -> Path:
    """The run-shaped directory of the shipped generator ``name``."""
    if name not in names():
        raise SaganError(f"no pretrained generator {name!r}; the package ships: {', '.join(names()) or 'none'}")
    return ROOT / name


def feature_model(name: str) -> Path:
    """The shipped domain classifier ``name`` (``feature_models/NAME.keras``)."""
    path = FEATURE_MODELS / f"{name}.keras"
    if not path.is_file():
        shipped = sorted(p.stem for p in FEATURE_MODELS.glob("*.keras"))
        raise SaganError(f"no shipped feature model {name!r}; the package ships: {', '.join(shipped) or 'none'}")
    return path


def resolve_feature_model(value: str) -> str:
    """``pretrained:NAME`` -> the shipped file's path; any other value as it is."""
    if value.startswith(FEATURE_MODEL_PREFIX):
        return str(feature_model(value[len(FEATURE_MODEL_PREFIX):]))
    return value
