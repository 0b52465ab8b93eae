"""A count of images in flight across all requests, shared by the handler threads.

``ImageBudget(capacity, wait_seconds).hold(n)`` takes min(n, capacity) slots at once and gives them
back when the block ends, so a request larger than the whole budget is still served (alone,
computing at most ``capacity`` images at a time). Waiters are served first come, first served: a
request that cannot get its slots within ``wait_seconds`` raises ``Busy`` and takes nothing.

Deadlock-free: a request takes all of its slots in one step and never asks for more while holding
some, so no request waits for slots that another waiting request holds; a held block always ends
(its generator calls do), and every release wakes the waiters.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Iterator


class Busy(Exception):
    """No capacity for a request within the wait: the app answers 503 with ``Retry-After``."""


class ImageBudget:
    def __init__(self, capacity: int, wait_seconds: float):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.wait_seconds = float(wait_seconds)
        self._free = self.capacity
        self._queue: collections.deque[object] = collections.deque()
        self._changed = threading.Condition()

    @property
    def in_flight(self) -> int:
        with self._changed:
            return self.capacity - self._free

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._queue)

    @contextlib.contextmanager
    def hold(self, images: int, wait_seconds: float | None = None) -> Iterator[int]:
        """Holds min(images, capacity) slots for the block; yields that number. Raises ``Busy`` when
        they are not free within ``wait_seconds`` (default: the budget's)."""
        slots = min(max(int(images), 1), self.capacity)
        self._acquire(slots, self.wait_seconds if wait_seconds is None else wait_seconds)
        try:
            yield slots
        finally:
            with self._changed:
                self._free += slots
                self._changed.notify_all()

    def _acquire(self, slots: int, wait_seconds: float) -> None:
        ticket = object()
        deadline = time.monotonic() + wait_seconds
        with self._changed:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self._free < slots:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise Busy(
                            f"the app is busy: {slots} more images did not fit beside the {self.capacity - self._free} "
                            f"it is computing (at most {self.capacity} at once) within {wait_seconds:g} s; try again shortly"
                        )
                    self._changed.wait(remaining)
                self._free -= slots
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()  # the next in line may fit now, or may be first now
