"""The inputs of ``TrainedGenerator.generate`` checked and converted before any TensorFlow call.

Each mistake is one ``SaganError`` line saying what to give instead: seeds that are not integers of
int64's range (the ``seed`` input of the ``generate`` signatures), z that is not (B, z_dim) finite
float32, a truncation below ``MIN_TRUNCATION`` (the explorer's bound, ``sagan-explore``), labels
that are neither class ids in [0, label_count) nor the generator's class names. Plain Python and numpy.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from sagan_tf.errors import SaganError

MIN_TRUNCATION = 1e-6  # smaller t are all z = 0 in effect, and below 1.4e-45 float32 holds 0, not t
INT64_MAX = 2**63 - 1


def batches(count: int, batch: int) -> list[slice]:
    """Consecutive slices of at most ``batch`` items covering range(count)."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    return [slice(start, min(start + batch, count)) for start in range(0, count, batch)]


def truncation_value(truncation: float) -> float:
    """``truncation`` as a float: inf (none) or at least ``MIN_TRUNCATION``."""
    try:
        value = float(truncation)
    except (TypeError, ValueError):
        raise SaganError(f"truncation must be a number (inf: none), got {truncation!r}") from None
    if not value >= MIN_TRUNCATION:  # also NaN
        raise SaganError(f"truncation must be >= {MIN_TRUNCATION:g} (inf: no truncation), got {truncation!r}")
    return value


def seed_array(seeds: int | Sequence[int] | np.ndarray) -> np.ndarray:
    """(B,) int64: one seed or a sequence of them, integers of int64's range."""
    try:
        array = np.asarray(seeds)
    except (TypeError, ValueError, OverflowError):
        array = np.asarray(seeds, dtype=object)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise SaganError(f"seeds must be one integer or a sequence of them, got an array of shape {array.shape}")
    if array.size and (array.dtype.kind not in "iu" or array.max() > INT64_MAX):
        raise SaganError(f"seeds must be integers in [-2**63, 2**63), got {_sample(array)}")
    return array.astype(np.int64)


def latent_array(z, z_dim: int) -> np.ndarray:
    """(B, z_dim) float32 z, every entry finite."""
    try:
        array = np.asarray(z, dtype=np.float32)
    except (TypeError, ValueError):
        raise SaganError("z must be an array of numbers of shape (batch, z_dim)") from None
    if array.ndim != 2 or array.shape[1] != z_dim:
        raise SaganError(f"z must have shape (batch, {z_dim}), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise SaganError("z must be finite (no NaN or inf)")
    return array


def label_ids(labels, count: int, num_classes: int, class_names: list[str] | None) -> np.ndarray:
    """(count,) int32 class ids of ``labels``: one label for every image or one per image, each a
    class id or a class name; None for an unconditional generator (``num_classes`` 0: every label is 0)."""
    if labels is None:
        if num_classes > 0:
            raise SaganError(f"labels are required: this generator draws {num_classes} classes ({_choices(num_classes, class_names)})")
        return np.zeros(count, np.int32)
    items = [labels] if isinstance(labels, (str, numbers.Integral)) else list(np.asarray(labels, dtype=object).ravel())
    if len(items) == 1:
        items = items * count
    if len(items) != count:
        raise SaganError(f"labels has {len(items)} entries for {count} images: give one label per image, or one for all")
    return np.array([_label_id(item, num_classes, class_names) for item in items], np.int32).reshape(count)


def _label_id(item, num_classes: int, class_names: list[str] | None) -> int:
    if isinstance(item, str):
        if class_names and item in class_names:
            return class_names.index(item)
        known = f"one of {', '.join(class_names)}" if class_names else "this generator's classes have no names"
        raise SaganError(f"label {item!r} is not a class name ({known}); class ids are in [0, {max(num_classes, 1)})")
    if isinstance(item, bool) or not isinstance(item, numbers.Integral):
        raise SaganError(f"labels must be class ids or class names, got {item!r}")
    if not 0 <= int(item) < max(num_classes, 1):
        detail = " (the generator is unconditional)" if num_classes == 0 else ""
        raise SaganError(f"labels must be class ids in [0, {max(num_classes, 1)}){detail}, got {int(item)}")
    return int(item)


def _choices(num_classes: int, class_names: list[str] | None) -> str:
    names = f" or names: {', '.join(class_names)}" if class_names else ""
    return f"ids 0 to {num_classes - 1}{names}"


def _sample(array: np.ndarray) -> str:
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in array[:3])
    return f"[{shown}{', ...' if array.size > 3 else ''}]"
