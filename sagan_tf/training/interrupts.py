"""SIGTERM and SIGINT during training: finish the step in flight, save a checkpoint of it, stop.

Schedulers (Kubernetes, Slurm, preemptible VMs) stop a job with SIGTERM and kill it with SIGKILL
after a grace period; Ctrl-C sends SIGINT. ``StopRequests`` records either signal:

- Until the first step has run nothing has been trained since the last checkpoint, so in a
  one-process run (``stop_at_once``) a signal stops the process at once with ``errors.Stopped``, also
  while the first step is being traced or compiled (which can take long).
- After that a signal only sets a flag. ``sagan_tf.training.loop`` ends training after the step in
  flight (``Interrupted``), and the checkpoint callback saves that step.
- With several processes (``multiworker``) every worker sums all workers' flags after each step
  (``loop.make_agreement``, one small all-reduce): all of them learn of any worker's signal after the
  same step, and all of them save that step and stop. There a signal is only recorded from the start,
  so that the workers also stop together when it arrives before or during the first step.

Exit status: 128 + the signal's number, on every worker (143 after SIGTERM, 130 after SIGINT: the
shell's convention for "terminated by this signal"; SIGTERM wins when both arrive).

Plain Python: ``sagan_tf.cli.train`` installs the handlers before it imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterable, Iterator

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


class StopRequests:
    """Records SIGTERM and SIGINT while ``installed``; see the module docstring.

    A signal raises ``errors.Stopped`` at once only between ``stop_at_once`` and ``start_training``;
    otherwise it is only recorded (while the run directory is being locked, for instance, so that
    the lock is always released by the block that holds it).
    """

    def __init__(self):
        self.immediate = False
        self.received: list[int] = []

    def flags(self) -> list[float]:
        """One entry per ``SIGNALS``: 1.0 if that signal was received, else 0.0."""
        return [1.0 if s in self.received else 0.0 for s in SIGNALS]

    def stop_at_once(self) -> None:
        """From now on a signal stops the process at once (raises ``errors.Stopped``), as does one
        that has already arrived."""
        self.immediate = True
        if self.received:
            self._stop(self.received[0])

    def start_training(self) -> None:
        """From now on a signal ends training after the current step instead of at once."""
        self.immediate = False

    def _handle(self, signum, frame) -> None:
        if signum not in self.received:
            self.received.append(signum)
        if self.immediate:
            self._stop(signum)

    @staticmethod
    def _stop(signum: int):
        raise Stopped(
            f"interrupted by {names([signum])} during start-up; run the same command to resume from the latest checkpoint",
            exit_status([signum]),
        )

    def reclaim(self) -> None:
        """Handles ``SIGNALS`` again. Needed after a ``MultiWorkerMirroredStrategy`` starts: TensorFlow's
        coordination service then replaces the process's SIGTERM handler with its own (at the C level,
        so that ``signal.getsignal`` still reports ours), and SIGTERM would no longer reach Python."""
        for s in SIGNALS:
            signal.signal(s, self._handle)

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequests]:
        """Handles ``SIGNALS`` (in the main thread) until the block ends, then restores the previous handlers."""
        previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


NEVER = StopRequests()  # for callers that install no handlers: nothing is ever received
