"""The config a training session runs with: a config (built-in name, YAML path or ``Config``) plus
``key=value`` overrides, or the run's own ``config.yaml`` when resuming; checked against the run
already in the directory, whose checkpoints were written for one model.

A checkpoint written with a different model config is an error (``CheckpointError``), not a silent
re-initialisation; what may change between sessions (steps, learning rates, logging, data
options) is everything outside ``Config.model_signature``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

from sagan_tf import config as config_lib
from sagan_tf.config import Config
from sagan_tf.errors import CheckpointError, SaganError
from sagan_tf.runs.run_dir import CONFIG_FILE

ConfigSource = str | Path | Config | None  # a name, a path, a Config, or None: the run's config.yaml


def resolve_config(
    source: ConfigSource, logdir: Path | None, overrides: Sequence[str] = (), count_classes: bool = True
) -> Config:
    """``source`` with ``overrides`` applied (``source`` None: the run's ``config.yaml``), checked
    against a run already in ``logdir``; ``count_classes``: a folder's ``num_classes: auto`` resolved
    to its class subfolders (``image_folder.resolve_classes``)."""
    saved_path = logdir / CONFIG_FILE if logdir is not None else None
    saved = saved_path is not None and saved_path.exists()
    if source is None and saved:
        source = saved_path
    if source is None:
        raise SaganError(f"--config is required (no {saved_path} to resume from)" if saved_path else "--config is required")
    if isinstance(source, Config):
        cfg = config_lib.apply_overrides(copy.deepcopy(source), list(overrides))
    else:
        cfg = config_lib.load(source, list(overrides))
    if count_classes:
        from sagan_tf.data.image_folder import resolve_classes

        resolve_classes(cfg.data)
    if saved:
        check_same_model(cfg, config_lib.load(saved_path), logdir)
    return cfg


def check_same_model(cfg: Config, saved: Config, logdir: Path) -> None:
    """A ``CheckpointError`` listing every model key that differs from the run's ``saved`` config."""
    mine, theirs = flatten(cfg.model_signature()), flatten(saved.model_signature())
    diff = [f"{k}: {theirs.get(k)} -> {mine.get(k)}" for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
    if diff:
        raise CheckpointError(
            f"{logdir} holds a run with a different model ({'; '.join(diff)}); use a new --logdir or the original config"
        )


def flatten(d: dict, prefix: str = "") -> dict:
    """``{"model": {"ch": 4}}`` -> ``{"model.ch": 4}``."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(flatten(v, key + ".") if isinstance(v, dict) else {key: v})
    return out
