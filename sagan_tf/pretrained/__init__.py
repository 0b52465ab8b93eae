"""Generators that ship with the package, to look at before training anything.

Each one is a directory shaped like a training run, holding only what sampling needs:
``config.yaml``, ``checkpoints/`` with the EMA generator alone (no D, no optimizer state),
``training.json`` (steps, wall-clock, hardware), ``evaluations/`` (the metrics measured on it, with
their protocol), ``MODEL_CARD.md`` and ``reference.json`` (a checksum of the weights and the images
of fixed seeds, which the tests compare with). Every verb that reads a run takes
``--pretrained NAME`` in place of ``--logdir RUN``: ``sagan-sample --pretrained fashion_mnist32
--out grid.png`` needs no dataset and no network. ``python -m sagan_tf.cli.build_pretrained`` makes one
from a run.
"""

from __future__ import annotations

from pathlib import Path

from sagan_tf.errors import SaganError

ROOT = Path(__file__).resolve().parent
REFERENCE_FILE = "reference.json"


def names() -> list[str]:
    """The shipped generators (subdirectories with a ``config.yaml``)."""
    return sorted(p.name for p in ROOT.iterdir() if (p / "config.yaml").is_file())


def directory(name: str) -> Path:
    """The run-shaped directory of the shipped generator ``name``."""
    if name not in names():
        raise SaganError(f"no pretrained generator {name!r}; the package ships: {', '.join(names()) or 'none'}")
    return ROOT / name
