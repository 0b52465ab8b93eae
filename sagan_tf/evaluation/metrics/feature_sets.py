"""Checks on the two feature sets that KID, precision/recall and density/coverage compare.

Every metric of raw features takes ``real`` (N, d) and ``fake`` (M, d); a wrong input is one
``ValueError`` that says which set and what is wrong, before any work is done.
"""

from __future__ import annotations

import numpy as np


def check_k(k, name: str = "k") -> int:
    """``k`` as an int >= 1, or a ValueError."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {k!r}")
    return int(k)


def check_feature_sets(
    real, fake, what: str, min_real: int = 1, min_fake: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``real`` and ``fake`` as 2-D float arrays of one feature dimension with at least ``min_real``
    and ``min_fake`` rows and finite values; ``what`` (e.g. "KID") names the metric in the error.

    Float arrays are returned as they are (no copy); other numbers are converted to float64.
    """
    arrays = []
    for name, x, least in (("real", real, min_real), ("fake", fake, min_fake)):
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"{what}: {name} features must be a 2-D array (samples, dim), got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.floating):
            if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
                raise ValueError(f"{what}: {name} features must be real numbers, got dtype {x.dtype}")
            x = x.astype(np.float64)
        if x.shape[0] < least:
            raise ValueError(f"{what} needs at least {least} {name} samples, got {x.shape[0]}")
        if x.shape[1] == 0:
            raise ValueError(f"{what}: {name} features have dimension 0")
        if not np.isfinite(x).all():
            raise ValueError(f"{what}: {name} features contain NaN or infinity")
        arrays.append(x)
    if arrays[0].shape[1] != arrays[1].shape[1]:
        raise ValueError(
            f"{what}: real and fake features differ in dimension ({arrays[0].shape[1]} vs {arrays[1].shape[1]})"
        )
    return arrays[0], arrays[1]
