"""Exclusive locks that the operating system releases with their process (``fcntl.flock``).

One trainer per run directory (``RUN/trainer.lock``) and one export publishing a version at a time
(``OUT/.export.lock``). The lock belongs to an open file description, so a holder that dies in any
way (SIGKILL, a crash, power loss of the machine) releases it and never blocks the next start; no
stale-lock cleanup is needed. The file records its holder (pid, host, since when, command) so that a
refused process can name it.

A lock file is removed by its holder when it releases the lock. Removing a lock file while holding it
is safe because ``acquire`` checks, after locking, that the path still names the file it locked (a
process that opened the old file just before it was removed retries on the new one).

Network filesystems: Linux NFS clients (v3 with lockd, v4) implement ``flock`` with the server's
byte-range locks, so the lock holds between machines; a dead client's lock is released when its lease
expires (NFSv4: about 90 s). Mounts with ``local_lock=flock`` or ``local_lock=all``, and most FUSE
mounts of object stores (gcsfuse, s3fs), lock only within one machine. Where ``flock`` is not
implemented at all, ``acquire`` raises ``LockingUnsupported`` and the caller decides.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
import time
from pathlib import Path

from sagan_tf.errors import SaganError

# flock's answers on filesystems that do not implement it (some FUSE and network mounts).
UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class LockingUnsupported(OSError):
    """The filesystem of the lock file does not support ``flock``."""


class LockHeld(SaganError):
    """Another live process holds the lock; ``holder`` is what it recorded (may be empty)."""

    def __init__(self, message: str, holder: dict):
        super().__init__(message)
        self.holder = holder


def describe(holder: dict) -> str:
    """``pid 123 on host gpu7, since 2026-12-01 18:40:12 UTC`` (what is known of it)."""
    parts = []
    if "pid" in holder:
        parts.append(f"pid {holder['pid']}")
    if "host" in holder:
        parts.append(f"on host {holder['host']}")
    text = " ".join(parts) or "a process that has not recorded itself yet"
    if "since" in holder:
        text += f", since {holder['since']}"
    return text


class FileLock:
    """An exclusive ``flock`` on ``path``; ``acquire`` raises ``LockHeld`` when another process holds it.

    ``what`` names the protected thing in the refusal (``runs/fmnist is in use by ...``).
    """

    def __init__(self, path: str | Path, what: str):
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float = 0.0) -> FileLock:
        """Locks, waiting up to ``timeout`` seconds for another holder to let go (0: refuse at once)."""
        deadline = time.monotonic() + timeout
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in UNSUPPORTED:  # nobody can lock this file: it is no one's to keep
                    self.path.unlink(missing_ok=True)
                    raise LockingUnsupported(e.errno, f"cannot lock {self.path}: {e.strerror}") from None
                if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                if time.monotonic() >= deadline:
                    holder = read_holder(self.path)
                    raise LockHeld(f"{self.what} is in use by {describe(holder)}", holder) from None
                time.sleep(0.05)
                continue
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the previous holder removed the file after we opened it: lock the new one
        self._fd = fd
        try:
            self._record()
        except BaseException:
            self.release()
            raise
        return self

    def _record(self) -> None:
        import datetime
        import socket

        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "command": " ".join(sys.orig_argv),
        }
        data = (json.dumps(holder) + "\n").encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        os.fsync(self._fd)

    def release(self) -> None:
        """Removes the lock file and unlocks (closing the file releases the ``flock``)."""
        if self._fd is None:
            return
        try:
            if _same_file(self._fd, self.path):
                self.path.unlink()
        except OSError:
            pass
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        return self if self.held else self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def read_holder(path: Path, attempts: int = 5) -> dict:
    """What the holder recorded; empty if it has not written it yet (it writes right after locking)."""
    for _ in range(attempts):
        try:
            holder = json.loads(Path(path).read_text())
            if isinstance(holder, dict):
                return holder
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    return {}


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class DirectoryLock(FileLock):
    """A ``FileLock`` on ``directory/name`` that creates ``directory`` (and missing parents) to hold
    it, and on release removes the directories it created if they are empty again: a start that is
    refused, or fails before writing anything, leaves the filesystem as it found it."""

    def __init__(self, directory: str | Path, name: str, what: str):
        super().__init__(Path(directory) / name, what)
        self.directory = Path(directory)
        self._created: list[Path] = []

    def acquire(self, timeout: float = 0.0) -> DirectoryLock:
        missing = []
        probe = self.directory
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        self.directory.mkdir(parents=True, exist_ok=True)
        self._created = missing  # deepest first
        try:
            super().acquire(timeout)
        except BaseException:
            self._remove_created()
            raise
        return self

    def release(self) -> None:
        super().release()
        self._remove_created()

    def _remove_created(self) -> None:
        for directory in self._created:
            try:
                directory.rmdir()
            except OSError:  # not empty: the run wrote something, keep it
                break
        self._created = []
