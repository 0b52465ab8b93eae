"""When the layers' running state moves: part of the algorithm, not of how it is computed.

Two layers keep state that a training call advances: spectral norm's power-iteration vector ``u``
(Miyato et al., Algorithm 1: one step per training step) and batch norm's moving mean and variance.
Inside ``with frozen_state(): ...`` a training call leaves that state where it is (it still
normalizes with batch statistics and differentiates through sigma).

The GAN step (``training.gan``) uses it so that each network's state moves exactly once per step,
in that network's own update: G's is frozen while G draws the fakes of D's updates, D's while D
scores the fakes of G's update. So ``bn_momentum`` and the spectral-norm estimate mean the same per
step whatever ``train.d_steps`` is.

The switch is read while a ``tf.function`` is traced, and it is per thread: ``MirroredStrategy``
traces each replica in its own thread, and a block entered inside one replica's trace must not
leak into another's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_local = threading.local()


def is_frozen() -> bool:
    """Whether a training call traced now must leave the running state untouched."""
    return getattr(_local, "depth", 0) > 0


@contextlib.contextmanager
def frozen_state() -> Iterator[None]:
    """Training calls traced inside the block leave ``u`` and the moving statistics as they are (nestable)."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1
