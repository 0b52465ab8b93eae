"""Tiny "trained" runs for the export, TFLite, client and explore tests, and ``saved_model_cli``.

A run is a generator built from ``configs/fashion_mnist32.yaml`` (ch=4, z_dim 128 as in the
config, so the example request bodies in ``export/requests`` fit it) whose every variable has
been moved away from its initial value (biases, BN moving statistics, class gains, attention gamma,
SN u), saved as ``checkpoints/ckpt-1`` next to its ``config.yaml``: what ``sagan-train``
leaves behind, without the minute of training. The in-memory generator is returned too, so tests
compare exports with weights that did not go through the export's own checkpoint loading.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.helpers import REPO

RUN_OVERRIDES = ["model.ch=4", "train.precision=float32"]  # the recipe says auto; parity is checked in float32


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
    from sagan_tf.runs.checkpointing import generator_checkpoint
    from sagan_tf.training.builders import build_generator

    cfg = config_lib.load(REPO / "configs" / config, [*RUN_OVERRIDES, *overrides])
    generator = build_generator(cfg)
    randomize(generator, seed)
    logdir.mkdir(parents=True)
    config_lib.save(cfg, logdir / "config.yaml")
    generator_checkpoint(generator).save(str(logdir / "checkpoints" / "ckpt"))
    return Run(logdir, generator, cfg)


def fixed_inputs(z_dim: int, labels, seed: int = 1):
    labels = np.asarray(labels, np.int32)
    z = np.random.default_rng(seed).standard_normal((len(labels), z_dim)).astype(np.float32)
    return z, labels


def saved_model_cli_show(path):
    result = subprocess.run(
        ["saved_model_cli", "show", "--all", "--dir", str(path)],
        check=False, capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def parse_signature_defs(text):
    """{signature: {"inputs"|"outputs": {name: (dtype, shape)}, "method": str}} from saved_model_cli."""
    signatures, current, side, name = {}, None, None, None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("signature_def['"):
            current = signatures.setdefault(line.split("'")[1], {"inputs": {}, "outputs": {}})
        elif current is None:
            continue
        elif line.startswith("The given SavedModel SignatureDef contains the following input"):
            side = "inputs"
        elif line.startswith("The given SavedModel SignatureDef contains the following output"):
            side = "outputs"
        elif line.startswith(("inputs['", "outputs['")):
            name = line.split("'")[1]
        elif line.startswith("dtype:"):
            dtype = line.split(":", 1)[1].strip()
        elif line.startswith("shape:"):
            current[side][name] = (dtype, line.split(":", 1)[1].strip())
        elif line.startswith("Method name is:"):
            current["method"] = line.split(":", 1)[1].strip()
        elif line.startswith("Concrete Functions"):
            break
    return signatures


def export_tiny_run(root: Path, overrides=(), formats=("saved_model", "tflite", "tflite_dynamic_range")) -> Export:
    """A tiny run under ``root/run`` exported to ``root/models/sagan`` (conversion takes ~15 s)."""
    from sagan_tf.serving.export import export_run

    run = make_run(root / "run", overrides)
    version_dir, manifest = export_run(run.logdir, root / "models" / "sagan", formats=formats)
    return Export(run, version_dir, manifest)
