"""The run directory while a trainer works in it: checked writable before anything is written, locked
for the whole session, given its ``config.yaml`` once the data is known to load.

One trainer per run directory: while a trainer runs, ``DIR/trainer.lock`` is locked (by the chief
under ``multiworker``) and a second trainer on ``DIR`` is refused at once, naming the holder
(``sagan_tf.locks``). A trainer that died holds no lock (``flock``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from pathlib import Path

from sagan_tf import config as config_lib
from sagan_tf import locks
from sagan_tf.config import Config
from sagan_tf.errors import SaganError
from sagan_tf.runs.run_dir import CHECKPOINT_DIR, CONFIG_FILE, LOCK_FILE


def check_logdir_writable(logdir: Path) -> None:
    """Fails early, without writing anything, when ``logdir`` cannot be created or written."""
    probe = logdir
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise SaganError(f"cannot write to --logdir {logdir}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SaganError(f"cannot write to --logdir {logdir}: {probe} is not writable")


def prepare_logdir(logdir: Path, cfg: Config, chief: bool, precision: str | None = None, ops: str | None = None) -> None:
    """The run directory with its ``config.yaml`` (``train.precision`` and ``model.ops`` as requested:
    ``precision``, ``ops``, which ``auto`` decides on every start); nothing on the other workers."""
    if not chief:
        return
    if precision is not None:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, precision=precision))
    if ops is not None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, ops=ops))
    try:
        (logdir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        config_lib.save(cfg, logdir / CONFIG_FILE)
    except OSError as e:
        raise SaganError(f"cannot write to --logdir {logdir}: {e.strerror or e}") from None


def lock_run_dir(logdir: Path, chief: bool) -> contextlib.AbstractContextManager:
    """Holds ``DIR/trainer.lock`` for the whole run on the chief (a no-op on the other workers).

    Refuses at once, naming the holder, when another live trainer holds it. A lock left by a trainer
    that died is released by the operating system, so it never blocks a restart. Where the file
    system cannot lock, one warning says so and training goes on.
    """
    if not chief:
        return contextlib.nullcontext()
    check_logdir_writable(logdir)
    lock = locks.DirectoryLock(logdir, LOCK_FILE, str(logdir))
    try:
        return lock.acquire()
    except locks.LockingUnsupported as e:
        print(f"warning: {e.strerror}; a second trainer on {logdir} would not be stopped", file=sys.stderr)
        return contextlib.nullcontext()
    except locks.LockHeld as e:
        raise SaganError(
            f"{logdir} is in use by another trainer ({locks.describe(e.holder)}); stop it first or use another --logdir"
        ) from None
    except OSError as e:
        raise SaganError(f"cannot write to --logdir {logdir}: {e.strerror or e}") from None
