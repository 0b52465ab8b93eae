"""A new run started from another run's weights (``train.init_from``, ``sagan-train --init-from``).

Fine-tuning and transfer as users of StyleGAN (transfer to new data) and StudioGAN ask for it: the
new run's G, D and G's EMA start from the source's latest checkpoint (a run directory, or
``pretrained:NAME``, a generator the package ships, which has no D: D then starts fresh), each
variable copied where its path and shape match. The optimizer state is fresh and the run starts at
step 0 with its own config (data, learning rates, ...).

* With a different number of classes, the class-dependent weights are re-initialised (as the new
  run's initialisation draws them) and listed in one line: conditional batch norm's per-class
  scales and shifts (``.../gamma/embeddings``, ``.../beta/embeddings``) and D's projection
  embedding (``sn_embedding``, its kernel and its spectral-norm ``u``).
* Any other difference (another resolution, ``model.arch``, ``model.ch``, attention placement) is
  one ``ConfigError`` naming the first variable that does not fit and both shapes.

Only a run without checkpoints starts this way: a run with checkpoints resumes, and asking for
``init_from`` again is an error saying so. ``config.yaml`` keeps ``train.init_from``;
``training.json`` records the checkpoint the weights came from.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from sagan_tf.errors import ConfigError, SaganError

PRETRAINED = "pretrained:"
NETWORKS = ("generator", "discriminator", "generator_ema")
_CLASS_DEPENDENT = re.compile(r"(^|/)(gamma|beta)/embeddings$|(^|/)sn_embedding/")


def is_class_dependent(path: str) -> bool:
    """Whether a variable (its path inside its network) has one row per class or belongs to D's
    projection embedding."""
    return bool(_CLASS_DEPENDENT.search(path))


@dataclass
class Source:
    """Where the weights come from: ``run`` (a run-shaped directory), its ``checkpoint`` and config."""

    name: str
    run: Path
    checkpoint: str
    num_classes: int


def find_source(init_from: str) -> Source:
    """The run directory or shipped generator ``init_from`` names, and its latest checkpoint."""
    from sagan_tf.runs.run_dir import latest_checkpoint, load_run_config

    if init_from.startswith(PRETRAINED):
        from sagan_tf import pretrained

        run = pretrained.directory(init_from[len(PRETRAINED):])
    else:
        run = Path(init_from)
    try:
        cfg = load_run_config(run)
    except SaganError as e:
        raise ConfigError(f"train.init_from {init_from}: {e}") from None
    return Source(init_from, run, latest_checkpoint(run), cfg.data.num_classes)


def check_new_run(init_from: str | None, logdir: Path) -> None:
    """A run that has checkpoints resumes: ``init_from`` given for it is an error."""
    if not init_from:
        return
    from sagan_tf.runs.run_dir import CHECKPOINT_DIR

    state = Path(logdir) / CHECKPOINT_DIR / "checkpoint"
    if state.exists():
        raise ConfigError(f"--init-from {init_from}: {logdir} already has checkpoints, so it resumes from its own; "
                          "start the fine-tuned run in a new --logdir, or drop --init-from to resume")


def initialize(model, source: Source, num_classes: int) -> list[str]:
    """Copies the source's G, D and EMA variables into ``model`` (see the module docstring);
    returns the one-line notes to print. Nothing is assigned unless everything fits."""
    from sagan_tf.runs.checkpointing import read_variables, variables_by_path

    targets = {"generator": model.generator, "discriminator": model.discriminator}
    if model.ema is not None:
        targets["generator_ema"] = model.ema.generator
    stored = {network: read_variables(source.checkpoint, network) for network in NETWORKS}
    if not stored["generator"] and stored["generator_ema"]:  # a shipped generator: its EMA alone
        stored["generator"] = stored["generator_ema"]
    if not stored["generator_ema"]:
        stored["generator_ema"] = stored["generator"]
    other_classes = source.num_classes != num_classes
    plan, fresh, notes = [], [], []
    for network, target in targets.items():
        values = stored[network]
        if not values:
            notes.append(f"{source.name} has no {network}: it starts from this run's initialisation")
            continue
        for path, variable in variables_by_path(target).items():
            value = values.get(path)
            shape = tuple(variable.shape)
            if other_classes and is_class_dependent(path):
                fresh.append(f"{network}/{path}")
                continue
            if value is None:
                raise ConfigError(f"--init-from {source.name}: {network} variable {path} {shape} is not in the source "
                                  f"checkpoint ({_hint()})")
            if tuple(value.shape) != shape:
                raise ConfigError(f"--init-from {source.name}: {network} variable {path} is {tuple(value.shape)} there "
                                  f"and {shape} here ({_hint()})")
            plan.append((variable, value))
    for variable, value in plan:
        variable.assign(value)
    if fresh:
        notes.append(f"{source.num_classes} classes there, {num_classes} here: re-initialised "
                     f"{', '.join(_short(name) for name in fresh)}")
    return notes


def _short(name: str) -> str:
    return name.replace("/embeddings", "").replace("generator_ema/", "ema/")


def _hint() -> str:
    return "same model.arch, model.ch, resolution and attention needed; only the class count may differ"


def start_from(model, init_from: str, num_classes: int) -> Source:
    """``initialize`` from ``init_from`` and says so on stderr; returns the source."""
    source = find_source(init_from)
    notes = initialize(model, source, num_classes)
    print(f"initialised from {source.checkpoint} (optimizer state fresh, step 0)", file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return source
