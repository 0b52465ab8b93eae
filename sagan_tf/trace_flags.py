"""Flags that layers read while a ``tf.function`` is traced, set by a nestable context manager.

Three switches choose how a layer is traced, not what it computes at run time:
``layers.frozen_state.frozen_state`` (no SN ``u`` or BN statistics update in this call), ``xla.xla_compatible_ops``
(ops every XLA backend compiles) and ``layers.blocks.unfolded_upsampling`` (the textbook op order).
"""

from __future__ import annotations

import contextlib
import threading
import types


class TraceFlag:
    """A nestable on/off switch: ``with flag(): ...`` turns it on, ``flag.active`` reads it.

    ``per_thread=True`` keeps the state per thread (a context entered inside one replica's trace
    must not leak into another's); ``per_thread=False`` makes it process-wide, so that the replica
    threads ``MirroredStrategy`` traces in see a context entered by the caller.
    """

    def __init__(self, per_thread: bool):
        self._state = threading.local() if per_thread else types.SimpleNamespace()

    @property
    def active(self) -> bool:
        return getattr(self._state, "depth", 0) > 0

    def __call__(self):
        """The context in which the flag is on (``with flag(): ...``)."""
        return self.scope()

    @contextlib.contextmanager
    def scope(self):
        self._state.depth = getattr(self._state, "depth", 0) + 1
        try:
            yield
        finally:
            self._state.depth -= 1
