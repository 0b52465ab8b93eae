"""The K best checkpoints of a run by one measured metric (``log.best_metric``, ``log.keep_best``).

As BigGAN-PyTorch keeps the 5 best checkpoints by FID beside the 2 latest, a run keeps in
``RUN/best/`` the ``keep_best`` checkpoints (G, D and G's EMA) that scored best on
``log.best_metric`` at the in-training evaluations (``evaluation.callbacks.FIDMonitor``), apart
from ``checkpoints/``, so ``log.keep_checkpoints`` never rotates them away. Lower is better for
FID and KID, higher for IS, precision, recall, density and coverage (``config.higher_is_better``).

``RUN/best/best.json`` is the ledger: the metric, its direction and the kept checkpoints, best
first, each ``{"step", "value", "metric", "path"}``. A new checkpoint is written first and the
ledger replaced atomically after it (``files.write_text``), both inside ``interrupts.uninterrupted``;
the checkpoint files the new ledger no longer names are deleted last. A run cut anywhere in between
therefore has a ledger naming complete checkpoints only; stray files are removed when the run resumes.

A run written before the ledger existed keeps one best-FID checkpoint in ``RUN/best_fid/`` with
``best_fid.json``: it is read as the best by FID (``read_ledger``), and a resumed run ranking by FID
copies it into ``best/``.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sagan_tf import files, interrupts
from sagan_tf.config import higher_is_better

BEST_DIR = "best"
LEDGER_FILE = "best.json"
LEGACY_DIR = "best_fid"  # one best-FID checkpoint, as runs before ``best/`` kept it
LEGACY_FILE = "best_fid.json"


@dataclass
class Ledger:
    """The kept checkpoints ranked by ``metric``: ``entries`` best first, each a dict with
    ``step``, ``value``, ``metric`` and ``path`` (relative to the run directory)."""

    metric: str
    entries: list[dict] = field(default_factory=list)
    legacy: bool = False  # read from ``best_fid/``

    @property
    def higher_is_better(self) -> bool:
        return bool(higher_is_better(self.metric))

    def rank(self, entries: list[dict]) -> list[dict]:
        """``entries`` best first by this ledger's metric; entries ranked by another metric last."""
        sign = -1.0 if self.higher_is_better else 1.0
        return sorted(entries, key=lambda e: (e["metric"] != self.metric, sign * e["value"], -e["step"]))

    def to_json(self) -> str:
        direction = "higher" if self.higher_is_better else "lower"
        return json.dumps({"metric": self.metric, "better": direction, "checkpoints": self.entries}, indent=2) + "\n"


def read_ledger(logdir: str | Path) -> Ledger | None:
    """The run's ledger (``best/best.json``), else a ledger of its ``best_fid/`` checkpoint, else None."""
    logdir = Path(logdir)
    try:
        raw = json.loads((logdir / BEST_DIR / LEDGER_FILE).read_text())
        return Ledger(raw["metric"], list(raw["checkpoints"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        raw = json.loads((logdir / LEGACY_DIR / LEGACY_FILE).read_text())
        step, value = int(raw["step"]), float(raw["fid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    path = f"{LEGACY_DIR}/ckpt-{step}"
    return Ledger("fid", [{"step": step, "value": value, "metric": "fid", "path": path}], legacy=True)


def describe_best(ledger: Ledger, entry: dict | None = None) -> str:
    """``best by fid = 12.3 at step 4000 of 3 kept`` (``entry``: another kept one, by its rank)."""
    entry = entry or ledger.entries[0]
    rank = ledger.entries.index(entry)
    which = "best" if rank == 0 else f"number {rank + 1}"
    return f"{which} by {entry['metric']} = {entry['value']:.4g} at step {entry['step']} of {len(ledger.entries)} kept"


class BestCheckpoints:
    """Keeps the ``keep`` best checkpoints of ``model`` by ``metric`` in ``LOGDIR/best`` (chief only)."""

    def __init__(self, model, logdir: str | Path, metric: str = "fid", keep: int = 1):
        import tensorflow as tf

        from sagan_tf.runs.checkpointing import variables_by_path
        from sagan_tf.training.ema import SHADOW_NAME

        self.logdir, self.directory = Path(logdir), Path(logdir) / BEST_DIR
        self.metric, self.keep = metric, keep
        objects = {"generator": variables_by_path(model.generator), "discriminator": variables_by_path(model.discriminator)}
        if model.ema is not None:
            objects[SHADOW_NAME] = variables_by_path(model.ema.generator)
        self.checkpoint = tf.train.Checkpoint(**objects)
        _ = self.checkpoint.save_counter  # created, so that it is written: restoring expects it, as in any saved checkpoint
        self.ledger = self._start()
        self._unmeasured_said = False

    def _start(self) -> Ledger:
        """The ledger a resumed run goes on with: ``best/``'s, or ``best_fid/``'s copied in; stray
        checkpoint files (a save cut short) removed."""
        found = read_ledger(self.logdir)
        ledger = Ledger(self.metric)
        if found is not None and found.legacy and self.metric == "fid":
            entry = found.entries[0]
            self.directory.mkdir(parents=True, exist_ok=True)
            copied = _copy_checkpoint(self.logdir / entry["path"], self.directory)
            if copied:
                ledger.entries = [{**entry, "path": f"{BEST_DIR}/{copied}"}]
                files.write_text(self.directory / LEDGER_FILE, ledger.to_json())
                print(f"note: the best-FID checkpoint of {LEGACY_DIR}/ (step {entry['step']}) is now kept in "
                      f"{BEST_DIR}/ with the best by log.best_metric", file=sys.stderr)
        elif found is not None and not found.legacy:
            ledger.entries = found.rank(found.entries) if found.metric == self.metric else found.entries
            if found.metric != self.metric and found.entries:
                print(f"note: {BEST_DIR}/ holds checkpoints ranked by {found.metric}; log.best_metric is now "
                      f"{self.metric}, and checkpoints ranked by it replace them", file=sys.stderr)
        self._remove_strays(ledger)
        return ledger

    def offer(self, step: int, values: dict) -> bool:
        """Keeps the model's state at ``step`` when ``values[metric]`` ranks among the ``keep`` best;
        returns whether it did."""
        value = values.get(self.metric)
        if value is None or not math.isfinite(float(value)):
            if not self._unmeasured_said:
                print(f"warning: log.best_metric {self.metric} was not measured at step {step} "
                      f"(measured: {', '.join(sorted(values))}); no best checkpoint is kept for it", file=sys.stderr)
                self._unmeasured_said = True
            return False
        entry = {"step": int(step), "value": float(value), "metric": self.metric, "path": f"{BEST_DIR}/ckpt-{int(step)}"}
        others = [e for e in self.ledger.entries if e["step"] != entry["step"]]
        kept = self.ledger.rank(others + [entry])[: self.keep]
        if entry not in kept:
            return False
        with interrupts.uninterrupted():  # the checkpoint and the ledger naming it are written together
            self.directory.mkdir(parents=True, exist_ok=True)
            self.checkpoint.write(str(self.logdir / entry["path"]))
            ledger = Ledger(self.metric, kept)
            files.write_text(self.directory / LEDGER_FILE, ledger.to_json())
            self.ledger = ledger
            self._remove_strays(ledger)
        return True

    def _remove_strays(self, ledger: Ledger) -> None:
        """Deletes the checkpoint files in ``best/`` that ``ledger`` does not name."""
        named = {Path(e["path"]).name for e in ledger.entries}
        if not self.directory.is_dir():
            return
        for path in self.directory.glob("ckpt-*"):
            if path.name.split(".", 1)[0] in named:
                continue
            if path.is_dir():  # a checkpoint writer's temporary directory
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _copy_checkpoint(prefix: Path, directory: Path) -> str | None:
    """Copies the files of checkpoint ``prefix`` (``.index``, ``.data-*``) into ``directory``;
    returns the prefix's name there, None when it has no index."""
    if not prefix.with_name(prefix.name + ".index").exists():
        return None
    for path in sorted(prefix.parent.glob(prefix.name + ".*"), key=lambda p: p.suffix == ".index"):
        shutil.copyfile(path, directory / path.name)  # the index last: it makes the checkpoint
    return prefix.name
