"""Old import paths that keep working for one release after their module moved.

A module left at an old path calls ``forward(globals(), "sagan_tf.NEW.PATH")``: it says once, as a
``FutureWarning`` (shown by default), which path to import instead, and takes every name of the new
module, so ``from sagan_tf.OLD import name`` and ``python -m sagan_tf.OLD`` go on working.
"""

from __future__ import annotations

import importlib
import warnings


def forward(namespace: dict, new: str) -> None:
    """Fills ``namespace`` (an old module's globals) with the names of module ``new``."""
    old = namespace["__name__"]
    warnings.warn(f"{old} has moved to {new}; import that instead (the old path goes in the next release)",
                  FutureWarning, stacklevel=3)
    module = importlib.import_module(new)
    namespace.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
