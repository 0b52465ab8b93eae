"""SIGTERM and SIGINT around a training session, and the line an interrupted session ends with.

``stop_requests`` installs ``interrupts.StopRequests`` (the step in flight finishes, a checkpoint of
it is written, ``errors.Stopped`` carries the line and the exit status 128 + the signal's number; a
second signal ends the process at once) only when asked to and only in the main thread, the one
Python delivers signals to: ``sagan-train`` always, a notebook's cell too (its stop button sends
SIGINT to the kernel), a trainer started in another thread never (there a ``StopRequests`` that
receives nothing stands in).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from sagan_tf import interrupts
from sagan_tf.runs.run_dir import CHECKPOINT_DIR


@contextlib.contextmanager
def stop_requests(handle_signals: bool) -> Iterator[interrupts.StopRequests]:
    """A ``StopRequests`` for one session: installed for the block when ``handle_signals`` and in the
    main thread, else one that never receives a signal."""
    requests = interrupts.StopRequests()
    if handle_signals and threading.current_thread() is threading.main_thread():
        with requests.installed():
            yield requests
    else:
        yield requests


def interruption_message(stop: interrupts.Interrupted, checkpoint: str | None, logdir: Path, chief: bool) -> str:
    """``interrupted by SIGTERM at step 37; checkpoint RUN/checkpoints/ckpt-37; run the same command to resume``."""
    where = "" if stop.here else " on another worker"
    if not chief:
        checkpoint = f"{logdir / CHECKPOINT_DIR}/ckpt-{stop.step} (written by the chief)"
    return (
        f"interrupted by {interrupts.names(stop.signals)}{where} at step {stop.step}; "
        f"checkpoint {checkpoint}; run the same command to resume"
    )
