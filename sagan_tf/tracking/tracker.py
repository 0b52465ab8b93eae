"""The interface every experiment tracker implements, and the fan-out that sends to several."""

from __future__ import annotations

import sys
from collections.abc import Mapping

import numpy as np

from sagan_tf.config import TRACKERS  # noqa: F401 - the names log.trackers knows, here with their interface


class Tracker:
    """What a training run sends: parameters once, scalars and pictures by step.

    ``params`` takes a flat mapping of config keys (``"train.g_lr"``) to values; ``scalars`` a
    mapping of names to floats; ``images`` a mapping of names to uint8 pictures ``(H, W, C)``,
    C = 1 or 3. Names may hold ``/`` (``per_class/recall/8_Bag``, ``attention/g_attention``).
    """

    name = "tracker"

    def params(self, values: Mapping[str, object]) -> None:
        raise NotImplementedError

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        raise NotImplementedError

    def images(self, step: int, pictures: Mapping[str, np.ndarray]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Makes what was sent readable by the tracker's own readers."""

    def close(self, ok: bool = True) -> None:
        """Ends the tracker's run, as finished or (``ok`` False) as stopped; a resumed run opens it again."""


class Trackers(Tracker):
    """Sends to every tracker of ``log.trackers`` in turn (none: a no-op).

    A tracker that fails once training is under way (its server went away) is dropped with one
    warning, and training goes on with the others: hours of training are not lost to a dashboard.
    """

    name = "trackers"

    def __init__(self, trackers: list[Tracker] | tuple[Tracker, ...] = ()):
        self.trackers = list(trackers)

    def _each(self, method: str, *args) -> None:
        for tracker in list(self.trackers):
            try:
                getattr(tracker, method)(*args)
            except Exception as e:  # noqa: BLE001 - any failure of a tracker's client
                self.trackers.remove(tracker)
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                print(f"warning: {tracker.name} failed ({first}); nothing more is sent to it, training goes on",
                      file=sys.stderr)

    def params(self, values):
        for tracker in self.trackers:  # at the start: a failure here ends the run (open_trackers)
            tracker.params(values)

    def scalars(self, step, values):
        self._each("scalars", step, {name: float(v) for name, v in values.items()})

    def images(self, step, pictures):
        self._each("images", step, pictures)

    def flush(self):
        self._each("flush")

    def close(self, ok=True):
        self._each("close", ok)


def as_tracker(writer) -> Tracker:
    """``writer`` as a ``Tracker``: a tracker as it is, a ``tf.summary`` writer as TensorBoard,
    ``None`` as no tracker (the callbacks take any of the three)."""
    if isinstance(writer, Tracker):
        return writer
    if writer is None:
        return Trackers()
    from sagan_tf.tracking.tensorboard import TensorBoardTracker

    return TensorBoardTracker(writer)


def flat_params(tree: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """A nested config dict as ``{"section.key": value}``; lists and None as their text."""
    out: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_params(value, name + "."))
        elif value is None or isinstance(value, (list, tuple)):
            out[name] = str(list(value) if isinstance(value, tuple) else value)
        else:
            out[name] = value
    return out
