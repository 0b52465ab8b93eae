"""Which checkpoint of a run a tool reads: ``--checkpoint best|latest|STEP|PATH``, and why.

* ``latest`` (the default): the newest checkpoint in ``checkpoints/``;
* ``best``: the best kept by ``log.best_metric`` (``runs.best``; a run's ``best_fid/`` is read as
  the best by FID);
* ``STEP`` (a number): the checkpoint of that step in ``checkpoints/``, else among the best kept;
* a path: that checkpoint (``PATH.index`` must exist).

``CheckpointChoice.reason`` says why, for the tools' output, the export's ``export.json`` and its
model card: ``best by fid = 12.3 at step 4000 of 3 kept``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from sagan_tf.errors import CheckpointError
from sagan_tf.runs.best import LEGACY_DIR, describe_best, read_ledger
from sagan_tf.runs.run_dir import CHECKPOINT_DIR, checkpoint_step, latest_checkpoint, load_run_config

CHOICES_HELP = ("latest (default), best (the best kept by the run's log.best_metric), a step number, "
                "or a checkpoint path; for runs")


@dataclass(frozen=True)
class CheckpointChoice:
    """A checkpoint ``path``, its ``step`` (None if its name has none), what was asked (``which``)
    and ``reason``: why this one."""

    path: str
    step: int | None
    which: str
    reason: str

    def to_json(self) -> dict:
        return {"path": self.path, "step": self.step, "which": self.which, "reason": self.reason}


def choose_checkpoint(logdir: str | Path, which: str | int | None = None) -> CheckpointChoice:
    """The checkpoint of the run in ``logdir`` that ``which`` names (see the module docstring);
    a ``CheckpointError`` naming what is there when there is no such checkpoint."""
    load_run_config(logdir)  # "not a training run" before "no checkpoint"
    which = "latest" if which is None else str(which)
    if which == "latest":
        path = latest_checkpoint(logdir)
        return CheckpointChoice(path, checkpoint_step(path), which, f"latest, step {checkpoint_step(path)}")
    if which == "best":
        ledger = read_ledger(logdir)
        if ledger is None or not ledger.entries:
            raise CheckpointError(f"{logdir} has no best checkpoint (train with log.fid_every > 0)")
        if ledger.legacy:
            print(f"note: {logdir} keeps its best-FID checkpoint in {LEGACY_DIR}/ (written before best/ and "
                  "log.best_metric); reading it as the best by fid", file=sys.stderr)
        entry = ledger.entries[0]
        return CheckpointChoice(str(Path(logdir) / entry["path"]), entry["step"], which, describe_best(ledger))
    if re.fullmatch(r"\d+", which):
        return _by_step(Path(logdir), int(which))
    if not Path(which + ".index").exists():
        raise CheckpointError(f"checkpoint {which} not found (expected {which}.index; or give latest, best or a step)")
    return CheckpointChoice(which, checkpoint_step(which), which, "the checkpoint path given")


def _by_step(logdir: Path, step: int) -> CheckpointChoice:
    path = logdir / CHECKPOINT_DIR / f"ckpt-{step}"
    if path.with_name(path.name + ".index").exists():
        return CheckpointChoice(str(path), step, str(step), f"step {step}, as asked")
    ledger = read_ledger(logdir)
    for entry in ledger.entries if ledger is not None else []:
        if entry["step"] == step and (logdir / (entry["path"] + ".index")).exists():
            return CheckpointChoice(str(logdir / entry["path"]), step, str(step),
                                    f"step {step}, as asked: {describe_best(ledger, entry)}")
    kept = sorted({checkpoint_step(p.name[: -len(".index")]) for p in logdir.glob(f"{CHECKPOINT_DIR}/ckpt-*.index")}
                  | {e["step"] for e in (ledger.entries if ledger is not None else [])})
    raise CheckpointError(f"{logdir} has no checkpoint of step {step} (steps kept: "
                          f"{', '.join(str(s) for s in kept) or 'none'})")
