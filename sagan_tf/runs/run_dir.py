"""A training run directory: its config and its latest checkpoint, for the tools that read runs."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from sagan_tf.errors import CheckpointError, SaganError

CONFIG_FILE = "config.yaml"
CHECKPOINT_DIR = "checkpoints"
SUMMARY_DIR = "train"
LOCK_FILE = "trainer.lock"  # held by the live trainer (``sagan_tf.locks``); removed when it ends
EVALUATIONS_DIR = "evaluations"  # every sagan-evaluate result on the run, one JSON file each


def load_run_config(logdir: str | Path):
    from sagan_tf import config as config_lib

    path = Path(logdir) / CONFIG_FILE
    if not path.exists():
        raise SaganError(f"{logdir} is not a training run (no {CONFIG_FILE})")
    return config_lib.load(path)


def checkpoint_step(path: str) -> int | None:
    """The step in a checkpoint path (``.../ckpt-2500`` -> 2500), None if it names none."""
    match = re.search(r"-(\d+)$", str(path))
    return int(match.group(1)) if match else None


def latest_checkpoint(logdir: str | Path) -> str:
    import tensorflow as tf

    path = tf.train.latest_checkpoint(str(Path(logdir) / CHECKPOINT_DIR))
    if path is None:
        raise CheckpointError(f"{logdir} has no checkpoint yet")
    return path


def load_generator(logdir: str | Path, ema: bool = True, checkpoint: str | None = None, ops: str | None = None):
    """The run's generator and config, from its latest checkpoint (or ``checkpoint``, a path), running
    the forms of ``sagan_tf.ops`` that ``ops`` names (default: the run's ``model.ops``).

    With ``ema`` (the default) it is the EMA shadow generator when the checkpoint has one, else the
    raw G; ``generator.name`` says which (``ema.SHADOW_NAME`` or ``generator``).

    G is built in float32 whatever ``train.precision`` the run trained in (its variables are
    float32 either way): samples, metrics, attention pictures and exports are the same function of
    the weights for a float32 and a mixed-precision run, and an export is a float32 model.
    """
    from sagan_tf.runs.checkpointing import generator_checkpoint, has_network, restore_or_fail
    from sagan_tf.training.builders import build_generator
    from sagan_tf.training.ema import SHADOW_NAME

    cfg = load_run_config(logdir)
    path = checkpoint or latest_checkpoint(logdir)
    network = SHADOW_NAME if ema and has_network(path, SHADOW_NAME) else "generator"
    generator = build_generator(cfg, name=network, precision="float32", ops=ops)
    restore_or_fail(generator_checkpoint(generator, network), path, partial=True)
    return generator, cfg


def resolve_checkpoint(logdir: str, which: str | None) -> str:
    """The path of the checkpoint ``which`` names: None/"latest", "best", a step or a path
    (``runs.choice.choose_checkpoint``, which also says why)."""
    from sagan_tf.runs.choice import choose_checkpoint

    return choose_checkpoint(logdir, which).path


def save_evaluation(logdir: str | Path, result: dict) -> Path:
    """Keeps a ``sagan-evaluate`` result in ``RUN/evaluations/step-<N>-<hash>.json`` (written
    atomically; the same protocol on the same checkpoint replaces its earlier result), where model
    cards find it."""
    from sagan_tf import files

    text = json.dumps(result, indent=2, sort_keys=True) + "\n"
    protocol = {k: v for k, v in result.items() if k in PROTOCOL_KEYS}
    digest = hashlib.sha256(json.dumps(protocol, sort_keys=True).encode()).hexdigest()[:10]
    directory = Path(logdir) / EVALUATIONS_DIR
    directory.mkdir(exist_ok=True)
    path = directory / f"step-{result.get('step')}-{digest}.json"
    files.write_text(path, text)
    return path


# What makes two evaluations of one checkpoint comparable (the rest of a result is its numbers).
PROTOCOL_KEYS = ("step", "generator", "features", "num_samples", "real_split", "num_real", "seed", "metrics", "protocol")


def read_evaluations(logdir: str | Path, step: int | None = None) -> list[dict]:
    """The results kept in ``RUN/evaluations/`` (of checkpoint ``step`` only, if given), oldest first."""
    directory = Path(logdir) / EVALUATIONS_DIR
    results = []
    for path in sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime) if directory.is_dir() else []:
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(result, dict) and (step is None or result.get("step") == step):
            results.append(result)
    return results
