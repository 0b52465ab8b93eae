"""``sagan_tf.locks``: a live holder refuses others and names itself; a dead holder blocks nobody."""

import datetime
import errno
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

from sagan_tf import locks
from tests.helpers import REPO

HOLD = """
import sys, time
from sagan_tf.locks import FileLock
FileLock(sys.argv[1], "the thing").acquire()
print("locked", flush=True)
time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    """A separate process holding ``tmp_path/x.lock``; yields (process, lock path)."""
    path = tmp_path / "x.lock"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc, path
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_a_live_holder_refuses_a_second_lock_and_is_named(holder):
    proc, path = holder
    before = path.read_bytes()
    with pytest.raises(locks.LockHeld) as refused:
        locks.FileLock(path, "the thing").acquire()
    assert refused.value.holder["pid"] == proc.pid
    assert refused.value.holder["host"] == socket.gethostname()
    since = datetime.datetime.strptime(refused.value.holder["since"], "%Y-%m-%d %H:%M:%S UTC")
    assert abs((datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - since).total_seconds()) < 120
    assert str(refused.value).startswith(f"the thing is in use by pid {proc.pid} on host {socket.gethostname()}, since ")
    assert path.read_bytes() == before  # the refused process wrote nothing


def test_a_holder_killed_with_sigkill_leaves_a_file_that_blocks_nobody(holder):
    proc, path = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert path.exists()  # the stale file stays, with the dead holder's record ...
    lock = locks.FileLock(path, "the thing").acquire()  # ... but the operating system released the lock
    assert locks.read_holder(path)["pid"] == os.getpid()
    lock.release()
    assert not path.exists()


def test_a_waiting_acquirer_gets_the_lock_when_the_holder_releases_it(tmp_path):
    path = tmp_path / "x.lock"
    first = locks.FileLock(path, "the thing").acquire()
    released = threading.Event()

    def release():
        released.set()
        first.release()

    threading.Timer(0.3, release).start()
    second = locks.FileLock(path, "the thing").acquire(timeout=600)
    assert released.is_set()  # it waited for the holder, however long the machine took
    # It locked the file that is at the path now (the first holder removed its own on release).
    assert os.fstat(second._fd).st_ino == os.stat(path).st_ino
    assert locks.read_holder(path)["pid"] == os.getpid()
    second.release()


def test_a_directory_lock_removes_the_directories_it_created_unless_something_was_written(tmp_path):
    run = tmp_path / "runs" / "a"
    with locks.DirectoryLock(run, "trainer.lock", "run a"):
        assert (run / "trainer.lock").exists()
    assert not (tmp_path / "runs").exists()

    with locks.DirectoryLock(run, "trainer.lock", "run a"):
        (run / "config.yaml").write_text("x")
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]

    with locks.DirectoryLock(run, "trainer.lock", "run a"):
        with pytest.raises(locks.LockHeld):
            locks.DirectoryLock(run, "trainer.lock", "run a").acquire()
        assert (run / "trainer.lock").exists()  # the refused lock removed nothing of the holder's
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]


def test_a_filesystem_without_flock_is_reported_and_the_trainer_goes_on_with_a_warning(tmp_path, monkeypatch, capsys):
    from sagan_tf.trainer.run_directory import lock_run_dir

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(locks.fcntl, "flock", no_locks)
    with pytest.raises(locks.LockingUnsupported, match="No locks available"):
        locks.DirectoryLock(tmp_path / "runs" / "a", "trainer.lock", "run a").acquire()
    assert not (tmp_path / "runs").exists()

    with lock_run_dir(tmp_path / "runs" / "b", chief=True):
        pass
    err = capsys.readouterr().err
    assert err.startswith(f"warning: cannot lock {tmp_path / 'runs' / 'b' / 'trainer.lock'}: No locks available")
    assert f"a second trainer on {tmp_path / 'runs' / 'b'} would not be stopped" in err
    assert not (tmp_path / "runs").exists()
