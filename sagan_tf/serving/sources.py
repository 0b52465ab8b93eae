"""Where a trained generator is read from: a training run, an export, or a generator the package ships.

``find`` tells them apart for the library calls that take one source (``load_generator``,
``evaluate``, ``export``):

* a **run directory** holds ``config.yaml`` and ``checkpoints/`` (``sagan-train --logdir``);
* an **export** is ``sagan-export --out`` (a model base path: its newest version unless a version is
  named) or one version directory in it (``saved_model.pb``, ``export.json``);
* a **shipped generator** is ``"pretrained:NAME"``, or the bare ``NAME`` when no such file or
  directory exists (``sagan_tf.pretrained``): a run-shaped directory inside the package.

Plain Python: nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from sagan_tf import pretrained
from sagan_tf.errors import SaganError
from sagan_tf.runs.run_dir import CONFIG_FILE

PRETRAINED_PREFIX = "pretrained:"
SAVED_MODEL_FILE = "saved_model.pb"


@dataclasses.dataclass(frozen=True)
class GeneratorSource:
    """A run (``kind`` "run": ``path`` is its directory; ``pretrained`` names a shipped one) or an
    export (``kind`` "export": ``path`` is a model base path or a version directory)."""

    kind: Literal["run", "export"]
    path: Path
    pretrained: str | None = None


def run_source(logdir: str | Path) -> GeneratorSource:
    """A training run directory (checked when it is read: ``runs.run_dir.load_run_config``)."""
    return GeneratorSource("run", Path(logdir))


def pretrained_source(name: str) -> GeneratorSource:
    """The generator the package ships as ``name`` (a ``SaganError`` naming the shipped ones otherwise)."""
    return GeneratorSource("run", pretrained.directory(name), name)


def export_source(model: str | Path) -> GeneratorSource:
    """``sagan-export``'s ``--out`` or one version directory in it (checked by ``version_directory``)."""
    return GeneratorSource("export", Path(model))


def existing_versions(out: Path) -> list[int]:
    """The integer version directories of a model base path, ascending (TF Serving's layout)."""
    if not out.is_dir():
        return []
    return sorted(int(p.name) for p in out.iterdir() if p.is_dir() and p.name.isdigit())


def is_export(path: Path) -> bool:
    """Whether ``path`` is a version directory or a model base path holding versions."""
    return (path / SAVED_MODEL_FILE).is_file() or any((path / str(v) / SAVED_MODEL_FILE).is_file()
                                                       for v in existing_versions(path))


def find(source: str | Path | GeneratorSource) -> GeneratorSource:
    """The kind of generator ``source`` names (module docstring); one ``SaganError`` line when it names none."""
    if isinstance(source, GeneratorSource):
        return source
    text = str(source)
    if text.startswith(PRETRAINED_PREFIX):
        return pretrained_source(text[len(PRETRAINED_PREFIX):])
    path = Path(source)
    if path.is_dir():
        if (path / CONFIG_FILE).is_file():
            return run_source(path)
        if is_export(path):
            return export_source(path)
        raise SaganError(f"{path} is neither a training run (no {CONFIG_FILE}) nor an export (no {SAVED_MODEL_FILE}, "
                         "no version directory)")
    if not path.exists() and path.name == text and text in pretrained.names():
        return pretrained_source(text)
    shipped = ", ".join(f"{PRETRAINED_PREFIX}{name}" for name in pretrained.names()) or "none"
    raise SaganError(f"{source} is not a directory: give a training run, an export or a shipped generator ({shipped})")


def version_directory(model: str | Path, version: int | None = None) -> Path:
    """The export version to load: ``model`` itself when it is one, else ``model/<version>`` (default: newest)."""
    model = Path(model)
    if not model.is_dir():
        raise SaganError(f"--model {model} is not a directory (expected sagan-export's --out, e.g. export/models/sagan)")
    if (model / SAVED_MODEL_FILE).exists():
        if version is not None and model.name != str(version):
            raise SaganError(f"--model {model} is a version directory; --version {version} names another one")
        return model
    versions = existing_versions(model)
    if not versions:
        raise SaganError(f"--model {model} has no exported version (expected {model}/<version>/saved_model.pb)")
    if version is None:
        return model / str(versions[-1])
    if version not in versions:
        raise SaganError(f"--model {model} has no version {version} (has {', '.join(map(str, versions))})")
    return model / str(version)
