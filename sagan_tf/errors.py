"""Errors a user can cause, and the one-line, non-zero exit the command-line tools turn them into."""

from __future__ import annotations

import functools
import sys


class SaganError(Exception):
    """Base class: a problem with the user's input, reported as one line."""


class ConfigError(SaganError):
    """Unknown key, wrong type or inconsistent values in a config."""


class DataError(SaganError):
    """Missing, unreadable or inconsistent training data."""


class CheckpointError(SaganError):
    """A checkpoint that cannot be used with this config."""


class DivergenceError(SaganError):
    """A loss or weight became NaN or Inf during training."""


class TrackerError(SaganError):
    """An experiment tracker of ``log.trackers`` that cannot be used: its client or its server."""


def positive(name: str, value: float | None) -> None:
    """A ``SaganError`` unless ``value`` is None or > 0 (``name``: the flag or option, for the line)."""
    if value is not None and value <= 0:
        raise SaganError(f"{name} must be positive, got {value}")


class Stopped(BaseException):
    """Not an error: the process was asked to stop (SIGTERM, SIGINT) and did so cleanly.

    ``str(e)`` is the one line to print, ``status`` the exit status. A ``BaseException``, like
    ``KeyboardInterrupt``, so that no ``except Exception`` on the way swallows it.
    """

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def exits_cleanly(main):
    """Decorates a CLI ``main``: a ``SaganError`` prints ``error: ...`` to stderr and exits with 2; a
    ``Stopped`` prints its line and exits with its status."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except SaganError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except Stopped as e:
            print(e, file=sys.stderr)
            sys.exit(e.status)

    return wrapper
