"""The ``impl`` argument of every op: ``"reference"`` or ``"fast"`` (``sagan_tf.ops_choice``)."""

from __future__ import annotations

from sagan_tf.ops_choice import FAST, IMPLS


def is_fast(impl: str) -> bool:
    """Whether ``impl`` asks for the fast form; an unknown value is a ``ValueError``."""
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    return impl == FAST
