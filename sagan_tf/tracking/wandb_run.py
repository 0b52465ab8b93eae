"""Weights & Biases as a tracker (``log.trackers: [wandb]``; ``pip install "sagan-tf[wandb]"``).

The run is a W&B run in the project ``log.tracker_project`` (entity ``log.wandb_entity``, null:
your default), named after the run directory, its files under ``LOGDIR/wandb`` (or
``WANDB_DIR``). Its id is kept in ``LOGDIR/trackers.json`` and a resumed run goes on in the same
W&B run (``resume="allow"``). ``WANDB_MODE=offline`` writes the run to files only (``wandb sync``
uploads them later). W&B's capture of the console is off: the run's own lines stay in your terminal.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

from sagan_tf.tracking import run_ids
from sagan_tf.tracking.tracker import Tracker


def new_run_id() -> str:
    """Eight lowercase letters and digits, as W&B's own run ids."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


class WandbTracker(Tracker):
    name = "wandb"

    def __init__(self, logdir: str | Path, project: str, entity: str | None):
        import wandb

        known = run_ids.read(logdir).get(self.name)
        run_id = known["id"] if known and known.get("project") == project else new_run_id()
        directory = os.environ.get("WANDB_DIR") or str(logdir)
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=project, entity=entity, id=run_id, resume="allow", dir=directory,
                              name=Path(logdir).resolve().name, settings=wandb.Settings(console="off"))
        if not known or known.get("id") != run_id:
            run_ids.remember(logdir, self.name, {"id": run_id, "project": project, "entity": entity})

    def params(self, values):
        self.run.config.update(dict(values), allow_val_change=True)

    def scalars(self, step, values):
        self.run.log(dict(values), step=int(step))

    def images(self, step, pictures):
        import wandb

        self.run.log({name: wandb.Image(p[..., 0] if p.shape[-1] == 1 else p) for name, p in pictures.items()},
                     step=int(step))

    def close(self, ok: bool = True):
        self.run.finish(exit_code=0 if ok else 1)
