"""SIGTERM and SIGINT during training: save the step reached, stop; a second signal stops at once.

Schedulers (Kubernetes, Slurm, preemptible VMs) stop a job with SIGTERM and kill it with SIGKILL
after a grace period; Ctrl-C sends SIGINT. ``StopRequests`` records either signal:

- Until the first step has run nothing has been trained since the last checkpoint, so in a
  one-process run (``stop_at_once``) a signal stops the process at once with ``errors.Stopped``, also
  while the first step is being traced or compiled (which can take long).
- After that a signal only sets a flag, and ``sagan_tf.training.loop`` ends training after the step
  in flight (``Interrupted``): the checkpoint is written first, and the step's other callbacks (FID,
  attention pictures, sample grids) are skipped, or stopped where they are when the signal arrives
  while they run (``stoppable``: the signal raises ``CallbacksStopped`` in them; writes that must
  not be cut in half run inside ``uninterrupted``). So a checkpoint is on disk within one step plus
  one save of the signal.
- A second signal after the first ends the process at once (``os._exit``), with one line naming the
  last checkpoint: for an input pipeline or a collective that hangs, where the step never ends. It is
  seen by a watcher thread (``signal.set_wakeup_fd``), so it works while the main thread is blocked
  inside TensorFlow.
- With several processes (``multiworker``) every worker sums all workers' flags after each step
  (``loop.make_agreement``, one small all-reduce): all of them learn of any worker's signal after the
  same step, and all of them save that step and stop. There a signal is only recorded from the start,
  so that the workers also stop together when it arrives before or during the first step.

Exit status: 128 + the signal's number, on every worker: 143 whenever a SIGTERM arrived (also after
a SIGINT, and also when it arrives while the checkpoint is written), else 130 after SIGINT.

Plain Python: the trainer (``sagan_tf.trainer``) installs the handlers before it imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator

from sagan_tf.errors import Stopped

SIGNALS = (signal.SIGINT, signal.SIGTERM)  # the order of ``StopRequests.flags``


def exit_status(signals: Iterable[int]) -> int:
    return 128 + max(signals)


def names(signals: Iterable[int]) -> str:
    return " and ".join(signal.Signals(s).name for s in sorted(set(signals)))


class Interrupted(Exception):
    """Raised by the training loop after ``step``, the step at which every process stops.

    ``signals``: the signals received (by any worker); ``here``: whether this process received one.
    """

    def __init__(self, step: int, signals: Iterable[int], here: bool = True):
        self.step = step
        self.signals = sorted(set(signals))
        self.here = here
        super().__init__(f"interrupted by {names(self.signals)} at step {step}")


class CallbacksStopped(BaseException):
    """Raised inside a step's callbacks (``StopRequests.stoppable``) by a signal: they stop where they
    are. A ``BaseException``, so that no ``except Exception`` in a callback swallows it."""


_uninterrupted = 0  # depth of ``uninterrupted`` blocks in the main thread
_pending: list[CallbacksStopped] = []  # raised when the outermost ``uninterrupted`` block ends


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """A signal arriving in this block does not stop it (a checkpoint, a small file being written):
    a ``CallbacksStopped`` it would have raised is raised when the block ends."""
    global _uninterrupted
    _uninterrupted += 1
    try:
        yield
    finally:
        _uninterrupted -= 1
    if _uninterrupted == 0 and _pending:
        raise _pending.pop()


def no_checkpoint() -> str | None:
    return None


class StopRequests:
    """Records SIGTERM and SIGINT while ``installed``; see the module docstring.

    A signal raises ``errors.Stopped`` at once only between ``stop_at_once`` and ``start_training``,
    and ``CallbacksStopped`` inside ``stoppable``; otherwise it is only recorded (while the run
    directory is being locked, for instance, so that the lock is always released by the block that
    holds it). ``last_checkpoint`` (a callable, set by the trainer) names the checkpoint that the
    line of a second signal points to.
    """

    def __init__(self):
        self.immediate = False
        self.received: list[int] = []
        self.last_checkpoint: Callable[[], str | None] = no_checkpoint
        self._stoppable = False
        self._installed = False

    def flags(self) -> list[float]:
        """One entry per ``SIGNALS``: 1.0 if that signal was received, else 0.0."""
        return [1.0 if s in self.received else 0.0 for s in SIGNALS]

    def status(self, stop: Interrupted) -> int:
        """The exit status after ``stop``: also counts a signal that reached this process after the
        stop was decided (a SIGTERM while the checkpoint is written, after another worker's SIGINT)."""
        return exit_status(stop.signals + self.received)

    def stop_at_once(self) -> None:
        """From now on a signal stops the process at once (raises ``errors.Stopped``), as does one
        that has already arrived."""
        self.immediate = True
        if self.received:
            self._stop(self.received[0])

    def start_training(self) -> None:
        """From now on a signal ends training after the current step instead of at once."""
        self.immediate = False

    @contextlib.contextmanager
    def stoppable(self) -> Iterator[None]:
        """A signal arriving in this block raises ``CallbacksStopped`` in it (outside ``uninterrupted``
        blocks), as does entering it after a signal. The caller catches it; the signal stays recorded."""
        if self.received:
            raise CallbacksStopped(f"{names(self.received)} arrived")
        self._stoppable = True
        try:
            yield
        finally:
            self._stoppable = False
            _pending.clear()

    def _handle(self, signum, frame) -> None:
        if signum not in self.received:
            self.received.append(signum)
        if self.immediate:
            self._stop(signum)
        if self._stoppable:
            self._stoppable = False
            stop = CallbacksStopped(f"{signal.Signals(signum).name} arrived")
            if _uninterrupted:
                _pending.append(stop)
            else:
                raise stop

    @staticmethod
    def _stop(signum: int):
        raise Stopped(
            f"interrupted by {names([signum])} during start-up; run the same command to resume from the latest checkpoint",
            exit_status([signum]),
        )

    def reclaim(self) -> None:
        """Handles ``SIGNALS`` again. Needed after a ``MultiWorkerMirroredStrategy`` starts: TensorFlow's
        coordination service then replaces the process's SIGTERM handler with its own (at the C level,
        so that ``signal.getsignal`` still reports ours), and SIGTERM would no longer reach Python.
        Nothing to do while not ``installed``."""
        if not self._installed:
            return
        for s in SIGNALS:
            signal.signal(s, self._handle)

    def _watch(self, fd: int) -> None:
        """The watcher thread: every delivery of ``SIGNALS`` is one byte on ``fd``; at the second,
        the process ends at once (the first is the main thread's to act on). A 0 byte ends the thread."""
        delivered: list[int] = []
        while True:
            try:
                data = os.read(fd, 64)
            except OSError:
                return
            for signum in data:
                if signum == 0:
                    return
                if signum not in SIGNALS:
                    continue
                delivered.append(signum)
                if len(delivered) >= 2:
                    self._exit_now(delivered)

    def _exit_now(self, delivered: list[int]) -> None:
        checkpoint = self.last_checkpoint()
        where = f"the last checkpoint is {checkpoint}" if checkpoint else "no checkpoint was written"
        sys.stderr.write(
            f"interrupted by {names(delivered)} (a second signal): stopped at once, the step in flight is not "
            f"saved; {where}; run the same command to resume\n"
        )
        sys.stderr.flush()
        os._exit(exit_status(delivered + self.received))

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequests]:
        """Handles ``SIGNALS`` (in the main thread) until the block ends, then restores the previous
        handlers; a watcher thread ends the process at a second signal."""
        previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        watcher = threading.Thread(target=self._watch, args=(read_fd,), name="sagan-signal-watcher", daemon=True)
        watcher.start()
        self._installed = True
        try:
            yield self
        finally:
            self._installed = False
            signal.set_wakeup_fd(previous_fd)
            for s, handler in previous.items():
                signal.signal(s, handler)
            os.write(write_fd, b"\0")
            watcher.join(timeout=5)
            os.close(write_fd)
            os.close(read_fd)


NEVER = StopRequests()  # for callers that install no handlers: nothing is ever received
