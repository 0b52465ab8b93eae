"""Writing files so that a reader never sees half of one: temp file beside the target, then rename.

``os.replace`` within one directory is atomic on POSIX filesystems: a reader (TensorBoard, TF
Serving, a second process, a resumed run) sees the old file or the new one, never a mix, and a
write that fails or is killed leaves the old file as it was. Every write has its own temporary
file (a random name, not only the process id, which threads share and which processes in
containers on other machines often repeat), so two writers of one path never write into the same
file: the last rename wins and the result is one writer's complete file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yields a hidden temporary path beside ``path`` to write to; on success it replaces ``path``,
    on an error it is removed. ``suffix``: for writers that need a file ending (``.keras``)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(6).hex()}.tmp{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
