"""Export a run's generator (``export``, ``sagan-export``): one version of the model in TF Serving's layout.

Writes one version of the model in TF Serving's layout, ``<out>/<version>/``::

    saved_model.pb, variables/, fingerprint.pb   the SavedModel (``sagan_tf.serving.signatures``)
    tflite/generator_float32.tflite              TFLite models (``sagan_tf.serving.tflite``)
    tflite/generator_float16.tflite
    export.json                                  source run, shapes, class names, file sizes, measured parity
    MODEL_CARD.md                                data, training (steps, wall-clock, hardware), metrics
                                                 with their protocol, intended use and limits

``--version`` defaults to the next free integer. Every file is written into a hidden temporary
directory in ``<out>`` first (TF Serving ignores names that are not integers) and renamed to
``<out>/<version>`` only after the SavedModel has been reloaded and every TFLite model run and
compared with the Keras generator on fixed inputs; an existing version is never overwritten.
Exports run in parallel, but they publish one at a time (``publish``, under ``<out>/.export.lock``):
two exports to one ``<out>`` get two versions, or with the same ``--version`` one of them is refused.
The generator is the one ``sagan_tf.runs.run_dir.load_generator`` returns: the run's latest checkpoint,
its EMA generator when the run has one.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sagan_tf import locks
from sagan_tf.errors import SaganError
from sagan_tf.serving.sources import GeneratorSource, existing_versions, find

FORMATS = {
    "saved_model": (),
    "tflite": ("float32", "float16"),
    "tflite_dynamic_range": ("dynamic_range",),
}
DEFAULT_FORMATS = ("saved_model", "tflite")
MANIFEST = "export.json"
PUBLISH_LOCK = ".export.lock"
PUBLISH_WAIT_S = 60.0  # another export holds the lock only while it renames its directory
TFLITE_DIR = "tflite"
SAVED_MODEL_MAX_ABS_ERROR = 1e-5  # same TF ops as Keras inference; only grappler's fusions differ
CHECK_BATCH = 8


class ExportError(SaganError):
    """An export that cannot be written as asked (format, version, destination)."""


def parse_formats(text: str | Sequence[str]) -> list[str]:
    """``"saved_model,tflite"`` -> ["saved_model", "tflite"], each checked against ``FORMATS``."""
    items = text.split(",") if isinstance(text, str) else list(text)
    formats = [f.strip() for f in items if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ExportError(f"unknown export format {', '.join(unknown) or repr(text)} (known: {', '.join(FORMATS)})")
    return list(dict.fromkeys(formats))


def next_version(out: Path) -> int:
    """One more than the largest integer version directory in ``out`` (1 for none)."""
    versions = existing_versions(out)
    return versions[-1] + 1 if versions else 1


def _destination(out: Path, version: int | None) -> tuple[Path, int]:
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} exists and is not a directory")
    if version is None:
        version = next_version(out)
    elif version <= 0:
        raise ExportError(f"--version must be a positive integer, got {version}")
    target = out / str(version)
    if target.exists():
        raise ExportError(f"{target} already exists; pass another --version or remove it")
    return target, version


def publish(staging: Path, out: Path, version: int | None, manifest: dict) -> tuple[Path, dict]:
    """Writes the manifest into ``staging`` and renames it to ``out/<version>``, holding ``out``'s
    publish lock: the version (``version``, else the next free integer) is chosen and taken in one
    step, so concurrent exports never pick the same one."""
    with locks.FileLock(out / PUBLISH_LOCK, str(out)).acquire(timeout=PUBLISH_WAIT_S):
        version = version or next_version(out)
        target = out / str(version)
        if target.exists():
            raise ExportError(f"{target} already exists; pass another --version or remove it")
        manifest = {**manifest, "version": version}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        try:
            os.rename(staging, target)
        except OSError as e:
            raise ExportError(f"cannot create {target}: {e.strerror}") from None
    return target, manifest


def check_inputs(num_classes: int, z_dim: int):
    """The fixed batch every exported artifact is compared on: z ~ N(0, 1), every label in turn."""
    import numpy as np

    from sagan_tf.serving.signatures import label_count

    rng = np.random.default_rng(20180521)
    z = rng.standard_normal((CHECK_BATCH, z_dim)).astype(np.float32)
    labels = (np.arange(CHECK_BATCH) % label_count(num_classes)).astype(np.int32)
    return z, labels


def _abs_error(a, b):
    import numpy as np

    return np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))


def _check(name: str, error: float, bound: float, what: str = "") -> float:
    if not error <= bound:
        raise ExportError(f"{name} differs from the Keras generator by {what}{error:.3g} > {bound:g}; not exporting")
    return float(error)


def _verify_saved_model(path: Path, z, labels, expected) -> float:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    out = loaded.signatures["serving_default"](z=tf.constant(z), labels=tf.constant(labels))
    return _check("the SavedModel", _abs_error(out["images_float"], expected).max(), SAVED_MODEL_MAX_ABS_ERROR)


def _write_tflite(saved_model_dir: Path, target: Path, variant: str, z, labels, expected) -> float:
    from sagan_tf.serving import tflite

    model = tflite.convert(saved_model_dir, variant)
    error = _abs_error(tflite.TFLiteGenerator(model)(z, labels)["images_float"], expected)
    name = f"the {variant} TFLite model"
    _check(name, error.mean(), tflite.MEAN_ABS_ERROR[variant], "a mean of ")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(model)
    return _check(name, error.max(), tflite.MAX_ABS_ERROR[variant])


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def export_run(
    logdir: str | Path,
    out: str | Path,
    version: int | None = None,
    formats: str | Sequence[str] = DEFAULT_FORMATS,
    checkpoint: str | None = None,
) -> tuple[Path, dict]:
    """Exports the generator of the run in ``logdir`` at ``checkpoint`` (latest, best, a step or a
    path: ``runs.choice``); returns the version directory and its manifest."""
    formats = parse_formats(formats)
    out = Path(out)
    requested = version
    _, version = _destination(out, version)  # fails early; the version is taken in ``publish``

    from sagan_tf.data.class_names import class_names
    from sagan_tf.runs.choice import choose_checkpoint
    from sagan_tf.runs.run_dir import load_generator, load_run_config
    from sagan_tf.serving import tflite
    from sagan_tf.serving.model_card import CARD_FILE, run_model_card
    from sagan_tf.serving.signatures import SIGNATURES, label_count, write_saved_model

    load_run_config(logdir)  # "not a training run" comes before "no checkpoint yet"
    chosen = choose_checkpoint(logdir, checkpoint)  # pinned: a run may still be training and write a newer one
    checkpoint = chosen.path
    generator, cfg = load_generator(logdir, checkpoint=checkpoint)
    num_classes, z_dim = cfg.data.num_classes, cfg.model.z_dim
    z, labels = check_inputs(num_classes, z_dim)
    expected = generator((z, labels), training=False).numpy()

    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=out))
    os.chmod(staging, 0o755)  # mkdtemp makes it 0700: TF Serving may run as another user
    variants = [variant for fmt in formats for variant in FORMATS[fmt]]
    scratch = Path(tempfile.mkdtemp(prefix="sagan-export-")) if variants else None
    try:
        parity, files = {}, {}
        if "saved_model" in formats:
            write_saved_model(generator, num_classes, z_dim, staging)
            parity["saved_model"] = _verify_saved_model(staging, z, labels, expected)
            files["saved_model"] = {"path": "saved_model.pb", "bytes": _tree_size(staging)}
        if variants:
            source = scratch / "saved_model"
            tflite.write_conversion_source(generator, num_classes, z_dim, source)
        for variant in variants:
            rel = f"{TFLITE_DIR}/{tflite.filename(variant)}"
            parity[f"tflite_{variant}"] = _write_tflite(source, staging / rel, variant, z, labels, expected)
            files[f"tflite_{variant}"] = {"path": rel, "bytes": (staging / rel).stat().st_size}
        manifest = {
            "version": None,  # set by publish
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "source": {"logdir": str(Path(logdir).resolve()), "checkpoint": checkpoint, "generator": generator.name,
                       "step": chosen.step, "chosen": chosen.which, "reason": chosen.reason},
            "model": {
                "resolution": cfg.data.resolution,
                "channels": cfg.data.channels,
                "num_classes": num_classes,
                "labels": [0, label_count(num_classes)],
                "z_dim": z_dim,
            },
            "class_names": class_names(cfg.data),
            "signatures": list(SIGNATURES) if "saved_model" in formats else [],
            "files": files,
            "max_abs_error_vs_keras": parity,
            "check_batch": {"size": CHECK_BATCH, "labels": labels.tolist()},
        }
        card = run_model_card(logdir, generator, cfg, chosen.step, checkpoint=chosen.reason)
        (staging / CARD_FILE).write_text(card)
        target, manifest = publish(staging, out, requested, manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return target, manifest


def export(
    source: str | Path | GeneratorSource,
    out: str | Path,
    *,
    version: int | None = None,
    formats: str | Sequence[str] = DEFAULT_FORMATS,
    checkpoint: str | None = None,
) -> Path:
    """Exports the generator of ``source`` (a run directory or ``"pretrained:NAME"``: its latest
    checkpoint unless ``checkpoint`` says best, a step or a path; the EMA generator when it has one) to ``out/<version>`` (default: the next free
    integer) in ``formats`` (``FORMATS``); returns the version directory. ``export_run`` with the
    sources ``load_generator`` takes."""
    found = find(source)
    if found.kind != "run":
        raise ExportError(f"{found.path} is an export already: export the run it came from (or pretrained:NAME)")
    target, _ = export_run(found.path, out, version, formats, checkpoint)
    return target


def summary(target: Path, manifest: dict) -> str:
    source = manifest.get("source", {})
    lines = [f"wrote {target}" + (f" from {source['checkpoint']} ({source['reason']})" if source.get("reason") else "")]
    for name, info in manifest["files"].items():
        error = manifest["max_abs_error_vs_keras"][name]
        lines.append(f"  {name:<22} {info['bytes'] / 1024:9.1f} KiB  max |x - keras| {error:.2e}  {info['path']}")
    return "\n".join(lines)
