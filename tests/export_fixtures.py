"""Tiny "trained" runs and their exports, shared by the export, TFLite, client and benchmark tests.

A run is a generator built from ``configs/fashion_mnist32.yaml`` (ch=4, z_dim 128 as in the
config, so the example request bodies in ``export/requests`` fit it) whose every variable has
been moved away from its initial value (biases, BN moving statistics, class gains, attention gamma,
SN u), saved as ``checkpoints/ckpt-1`` next to its ``config.yaml``: what ``sagan_tf.train``
leaves behind, without the minute of training. The in-memory generator is returned too, so tests
compare exports with weights that did not go through the export's own checkpoint loading.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.conftest import REPO

TINY = ["model.ch=4", "train.precision=float32"]  # the recipe says auto; parity is checked in float32


@dataclass
class Run:
    logdir: Path
    generator: object
    cfg: object


@dataclass
class Export:
    run: Run
    version_dir: Path
    manifest: dict


def randomize(generator, seed: int) -> None:
    """Moves every variable of G to a random, plausible trained value."""
    rng = np.random.default_rng(seed)
    for v in generator.variables:
        shape = tuple(v.shape)
        if "moving_variance" in v.path:
            value = rng.uniform(0.5, 2.0, shape)
        elif v.path.endswith("gamma") and shape == ():  # attention gamma: let attention matter
            value = 0.6
        elif "gamma/embeddings" in v.path:  # conditional BN gains around 1
            value = 1.0 + rng.normal(0.0, 0.2, shape)
        else:
            value = np.asarray(v.numpy()) + rng.normal(0.0, 0.1, shape)
        v.assign(np.asarray(value, np.float32))


def make_run(logdir: Path, overrides=(), seed: int = 0, config: str = "fashion_mnist32.yaml") -> Run:
    from sagan_tf import config as config_lib
    from sagan_tf.training.builders import build_generator
    from sagan_tf.training.checkpointing import generator_checkpoint

    cfg = config_lib.load(REPO / "configs" / config, [*TINY, *overrides])
    generator = build_generator(cfg)
    randomize(generator, seed)
    logdir.mkdir(parents=True)
    config_lib.save(cfg, logdir / "config.yaml")
    generator_checkpoint(generator).save(str(logdir / "checkpoints" / "ckpt"))
    return Run(logdir, generator, cfg)


_lock = threading.Lock()
_exports: dict[str, Export] = {}


def shared_export(
    tmp_path_factory, name: str = "conditional", overrides=(), formats=("saved_model", "tflite", "tflite_dynamic_range")
) -> Export:
    """One export per ``name`` for the whole test session (conversion takes ~15 s)."""
    from sagan_tf.serving.export import export_run

    with _lock:
        if name not in _exports:
            root = tmp_path_factory.mktemp(f"export-{name}")
            run = make_run(root / "run", overrides)
            version_dir, manifest = export_run(run.logdir, root / "models" / "sagan", formats=formats)
            _exports[name] = Export(run, version_dir, manifest)
        return _exports[name]


def fixed_inputs(z_dim: int, labels, seed: int = 1):
    labels = np.asarray(labels, np.int32)
    z = np.random.default_rng(seed).standard_normal((len(labels), z_dim)).astype(np.float32)
    return z, labels
