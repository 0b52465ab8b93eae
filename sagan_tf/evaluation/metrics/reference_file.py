"""Reference statistics as a portable ``.npz``: ``mu`` (d,) and ``sigma`` (d, d), float64.

These two arrays are the format of the FID statistics files of TTUR (Heusel et al. 2017,
``bioinf-jku/TTUR``) and of clean-fid, so FID can be measured against a published file, and a
file written here can be read by those tools. ``count`` (the number of feature vectors) is written
too and read when present; readers that look only at ``mu`` and ``sigma`` ignore it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.metrics.fid import GaussianStats
from sagan_tf.files import atomic_path


def save_reference_stats(path: str | Path, stats: GaussianStats) -> None:
    """Writes ``mu``, ``sigma`` and ``count`` of ``stats`` to ``path`` (atomically, as given: no
    ``.npz`` is appended)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            mu=np.asarray(stats.mu, np.float64),
            sigma=np.asarray(stats.sigma, np.float64),
            count=np.array(stats.count, np.int64),
        )


def load_reference_stats(path: str | Path, dim: int | None = None) -> GaussianStats:
    """The statistics in the ``.npz`` at ``path`` (``count`` 0 when the file has none).

    Any problem is one ``SaganError`` line: no such file, not an ``.npz``, no ``mu`` or ``sigma``,
    shapes that are not (d,) and (d, d), non-finite values, or a dimension other than ``dim`` (the
    feature model's, when given).
    """
    if not Path(path).is_file():
        raise SaganError(f"reference statistics file not found: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
        if not hasattr(archive, "files"):
            raise SaganError(f"reference statistics {path} hold a single array, not an .npz archive of mu and sigma")
        with archive as f:
            missing = [k for k in ("mu", "sigma") if k not in f.files]
            if missing:
                raise SaganError(f"reference statistics {path} have no {' and no '.join(missing)} array")
            mu, sigma = np.asarray(f["mu"], np.float64), np.asarray(f["sigma"], np.float64)
            count = int(f["count"]) if "count" in f.files else 0
    except SaganError:
        raise
    except (OSError, ValueError, TypeError, zipfile.BadZipFile) as e:
        raise SaganError(f"cannot read reference statistics {path}: {str(e).splitlines()[0][:200]}") from None
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise SaganError(f"reference statistics {path}: mu {mu.shape} and sigma {sigma.shape} are not (d,) and (d, d)")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise SaganError(f"reference statistics {path} contain NaN or infinity")
    if dim is not None and mu.shape[0] != dim:
        raise SaganError(
            f"reference statistics {path} have dimension {mu.shape[0]}, the feature model gives {dim}: "
            "they were computed with another feature network"
        )
    return GaussianStats(mu, sigma, count)
