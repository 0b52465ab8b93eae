"""Make a shipped generator from a training run (the command: ``python -m sagan_tf.cli.build_pretrained``).

Writes ``sagan_tf/pretrained/NAME/`` (see ``sagan_tf.pretrained``): the run's config, its EMA
generator alone as a checkpoint, its ``training.json``, the evaluations of that checkpoint (without
local paths), the model card, and ``reference.json`` + ``reference.npy``: the SHA-256 of the weights
file and the float32 images of seeds 0 (one per class, as ``sagan-sample --n 1 --seed 0`` draws
them). The directory is assembled beside its destination and renamed into place; an existing one
is replaced only with ``--replace``. ``notes`` (markdown: how the card's numbers were made, for
example the feature classifier's command and accuracy and a link to the measurement record) is
appended to the card as its last section.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from sagan_tf import config as config_lib
from sagan_tf.errors import SaganError
from sagan_tf.pretrained import REFERENCE_FILE, ROOT

REFERENCE_IMAGES = "reference.npy"
LOCAL_KEYS = ("logdir", "checkpoint")  # paths on the machine that measured, meaningless elsewhere


def reference_inputs(num_classes: int, z_dim: int, seed: int = 0):
    """One image per class (one for an unconditional generator), z as ``sagan-sample`` draws it."""
    import numpy as np
    import tensorflow as tf

    labels = np.arange(max(num_classes, 1), dtype=np.int32)
    z = tf.random.stateless_normal([len(labels), z_dim], seed=[seed, 0])
    return z, tf.constant(labels)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(logdir: str, name: str, root: Path = ROOT, replace: bool = False, notes: str = "") -> Path:
    import numpy as np
    import tensorflow as tf

    from sagan_tf.runs import record
    from sagan_tf.runs.checkpointing import generator_checkpoint
    from sagan_tf.runs.run_dir import (
        CHECKPOINT_DIR,
        CONFIG_FILE,
        EVALUATIONS_DIR,
        checkpoint_step,
        latest_checkpoint,
        load_generator,
        read_evaluations,
    )
    from sagan_tf.serving.model_card import CARD_FILE, run_model_card, with_notes

    target = root / name
    if target.exists() and not replace:
        raise SaganError(f"{target} exists; pass --replace to replace it")
    checkpoint = latest_checkpoint(logdir)
    step = checkpoint_step(checkpoint)
    generator, cfg = load_generator(logdir, checkpoint=checkpoint)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    os.chmod(staging, 0o755)  # mkdtemp makes it 0700: an installed package is read by every user
    try:
        config_lib.save(cfg, staging / CONFIG_FILE)
        manager = tf.train.CheckpointManager(
            generator_checkpoint(generator, generator.name), str(staging / CHECKPOINT_DIR), max_to_keep=1
        )
        saved = Path(manager.save(checkpoint_number=step))
        sessions = record.read(logdir)
        (staging / record.RECORD_FILE).write_text(json.dumps({"sessions": sessions}, indent=2) + "\n")
        evaluations = [
            {k: v for k, v in e.items() if k not in LOCAL_KEYS}
            for e in read_evaluations(logdir, step)
            if e.get("generator") == generator.name
        ]
        (staging / EVALUATIONS_DIR).mkdir()
        for i, e in enumerate(evaluations):
            (staging / EVALUATIONS_DIR / f"step-{step}-{i}.json").write_text(json.dumps(e, indent=2, sort_keys=True) + "\n")
        # the card of what is shipped, read from the staged directory as an export reads a run
        card = run_model_card(staging, generator, cfg, step, f"{name} (shipped with sagan_tf)")
        (staging / CARD_FILE).write_text(with_notes(card, notes))
        z, labels = reference_inputs(cfg.data.num_classes, cfg.model.z_dim)
        images = generator((z, labels), training=False).numpy().astype(np.float32)
        np.save(staging / REFERENCE_IMAGES, images)
        weights = sorted(saved.parent.glob(saved.name + ".data-*"))
        reference = {
            "step": step,
            "generator": generator.name,
            "weights": {p.name: sha256(p) for p in weights},
            "images": {"file": REFERENCE_IMAGES, "seed": 0, "labels": labels.numpy().tolist()},
        }
        (staging / REFERENCE_FILE).write_text(json.dumps(reference, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def refresh(name: str, evaluations: list[dict], notes: str | None = None, root: Path = ROOT) -> Path:
    """Replaces the kept evaluations of the shipped generator ``name`` with ``evaluations`` (results of
    ``sagan-evaluate --pretrained NAME``: each must be of its generator and step) and writes its card
    again, with ``notes`` as its last section (None: the card's present notes)."""
    from sagan_tf import files
    from sagan_tf.pretrained import directory
    from sagan_tf.runs.run_dir import EVALUATIONS_DIR, load_generator
    from sagan_tf.serving.model_card import CARD_FILE, card_notes, run_model_card, with_notes, without_notes

    target = directory(name) if root == ROOT else root / name
    reference = json.loads((target / REFERENCE_FILE).read_text())
    generator, cfg = load_generator(target)
    for i, e in enumerate(evaluations):
        if (e.get("generator"), e.get("step")) != (generator.name, reference["step"]):
            raise SaganError(f"evaluation {i + 1} is of {e.get('generator')} at step {e.get('step')}, not of the shipped "
                             f"{generator.name} at step {reference['step']}")
        if not e.get("protocol"):
            raise SaganError(f"evaluation {i + 1} has no protocol object: measure it with this version of sagan-evaluate")
    card_path = target / CARD_FILE
    notes = card_notes(card_path.read_text()) if notes is None and card_path.is_file() else (notes or "")
    kept = target / EVALUATIONS_DIR
    for old in kept.glob("*.json"):
        old.unlink()
    for i, e in enumerate(evaluations):
        shipped = {k: v for k, v in e.items() if k not in LOCAL_KEYS}
        files.write_text(kept / f"step-{reference['step']}-{i}.json", json.dumps(shipped, indent=2, sort_keys=True) + "\n")
    card = run_model_card(target, generator, cfg, reference["step"], f"{name} (shipped with sagan_tf)")
    files.write_text(card_path, with_notes(without_notes(card), notes))
    return target
