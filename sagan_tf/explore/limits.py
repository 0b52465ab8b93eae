"""The bounds ``sagan-explore`` serves within, whatever arrives (plain Python: the CLI reads the
defaults without importing TensorFlow or the web framework).

* ``max_images``: images in flight across all requests (``budget.ImageBudget``). A request holds
  min(its images, max_images) of them from before its first generator call until its answer is
  encoded; one that cannot get them within ``wait_seconds`` gets 503 with ``Retry-After``.
* ``batch``: images per generator call at most (a grid of 256 images is 16 calls of 16; why its
  pixels are those of one call: ``views``).
* ``max_connections``: uvicorn's ``limit_concurrency`` (beyond it uvicorn answers 503 itself) and
  the size of the thread pool that runs the handlers, so that every admitted request starts at
  once and none waits in a hidden queue.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

MAX_IMAGES = 64
BATCH = 16
WAIT_SECONDS = 2.0
MAX_CONNECTIONS = 64


@dataclass(frozen=True)
class Limits:
    max_images: int = MAX_IMAGES
    batch: int = BATCH
    wait_seconds: float = WAIT_SECONDS
    max_connections: int = MAX_CONNECTIONS

    def __post_init__(self):
        for name in ("max_images", "batch", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (math.isfinite(self.wait_seconds) and self.wait_seconds >= 0):
            raise ValueError(f"wait_seconds must be a finite number >= 0, got {self.wait_seconds}")

    @property
    def retry_after(self) -> int:
        """Seconds a refused client should wait before asking again (the ``Retry-After`` header)."""
        return max(1, math.ceil(self.wait_seconds))

    def as_json(self) -> dict:
        return asdict(self)
