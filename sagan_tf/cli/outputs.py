"""The verbs' output paths, checked before the work and kept safe after it.

``writable_file`` (a file such as ``--out grid.png``) and ``writable_directory`` (a directory such
as ``sagan-export --out``) are called before any long computation: an existing directory where a
file goes, a path under a file, a read-only place or a full disk is one ``SaganError`` line naming
the flag and the path (exit status 2), found by writing (and removing) a small probe file where the
output will go (or in the nearest folder that exists, where the writer will make the missing ones).

``write_result`` writes a result at the end of a long computation; when that fails anyway (the
disk filled up meanwhile), the result is written beside the asked path or in the temporary
directory instead, and the ``SaganError`` line says where it is.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from sagan_tf.errors import SaganError

PROBE_BYTES = 4096  # written and removed where an output goes: a full disk fails on it


def _reason(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "the disk is full"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "it is not writable (permission denied or a read-only file system)"
    if e.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a directory"
    return e.strerror or str(e)


def _file_above(path: Path) -> Path | None:
    """The first ancestor of ``path`` that exists and is not a directory, if any."""
    for parent in [path, *path.parents]:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def probe_directory(directory: Path, flag: str, shown: Path) -> None:
    """Writes and removes a small file in ``directory``, or in its nearest existing parent when it
    does not exist yet (where the writer will make it): nothing is left behind. A ``SaganError``
    saying why ``shown`` (the user's path of ``flag``) cannot be written when that fails."""
    above = _file_above(directory)
    if above is not None:
        raise SaganError(f"cannot write {flag} {shown}: {above} is a file, not a directory")
    existing = next(p for p in [directory, *directory.parents] if p.exists())
    try:
        fd, probe = tempfile.mkstemp(prefix=".sagan-probe-", dir=existing)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(b"\0" * PROBE_BYTES)
                f.flush()
                os.fsync(f.fileno())
        finally:
            os.unlink(probe)
    except OSError as e:
        raise SaganError(f"cannot write {flag} {shown}: {_reason(e)}") from None


def writable_file(path: str | Path | None, flag: str = "--out", example: str = "out.png") -> None:
    """A ``SaganError`` unless a file can be written at ``path`` (None: nothing to check);
    ``example``: a file name for the line that asks for a file instead of a directory."""
    if path is None:
        return
    if Path(path).is_dir() or str(path).endswith(os.sep):
        raise SaganError(f"cannot write {flag} {path}: it is a directory; give a file path such as "
                         f"{Path(path) / example}")
    path = Path(path)
    probe_directory(path.parent, flag, path)


def writable_directory(path: str | Path | None, flag: str = "--out") -> None:
    """A ``SaganError`` unless ``path`` is (or can be made as) a directory that can be written."""
    if path is None:
        return
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SaganError(f"cannot write {flag} {path}: it is a file, not a directory")
    probe_directory(path, flag, path)


def write_result(path: str | Path, write: Callable[[Path], None], what: str, flag: str = "--out") -> Path:
    """``write(path)``; when it fails, ``write`` to a path beside it (``NAME.saved-PID.EXT``), else
    in the temporary directory, and a ``SaganError`` naming where the result was kept."""
    path = Path(path)
    try:
        write(path)
        return path
    except OSError as e:
        reason = _reason(e)
    for directory in (path.parent, Path(tempfile.gettempdir())):
        kept = directory / f"{path.stem}.saved-{os.getpid()}{path.suffix}"
        try:
            write(kept)
        except OSError:
            continue
        raise SaganError(f"cannot write {flag} {path} ({reason}); the {what} is kept in {kept}")
    raise SaganError(f"cannot write {flag} {path} ({reason}), nor beside it or in {tempfile.gettempdir()}; "
                     f"the {what} is lost")
