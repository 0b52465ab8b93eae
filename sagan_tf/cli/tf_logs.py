"""TensorFlow's C++ start-up lines kept off a command's screen, unless the user asks for them.

Importing TensorFlow on a machine without a GPU prints lines of its C++ runtime that read as
failures (``E0000 ... failed call to cuInit``, ``I0000 ... oneDNN custom operations are on``,
``WARNING: All log messages before absl::InitializeLog() ...``). Those written before absl's
logging starts ignore ``TF_CPP_MIN_LOG_LEVEL``; they all come while the ``tensorflow`` module is
imported. ``quiet`` (run by every verb's argument parser, ``arguments.Parser``) therefore

- sets ``TF_CPP_MIN_LOG_LEVEL=3`` (C++ errors too: TensorFlow raises each as a Python exception,
  which the verbs turn into one line), and
- wraps the first import of ``tensorflow`` so that, while it runs, file descriptor 2 goes to a
  temporary file; afterwards every line of it that is not such a C++ log line (``[IWEF]dddd ...``,
  absl's pre-init notice) is written to stderr again.

Nothing is changed when the user set ``TF_CPP_MIN_LOG_LEVEL`` (their level is respected) or passed
``--tf-logs``, nor when TensorFlow is already imported. The verbs' own warnings are Python lines
and always print.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator

FLAG = "--tf-logs"
LEVEL = "TF_CPP_MIN_LOG_LEVEL"
# glog/absl lines (severity letter, MMDD, time, thread, file:line]) and absl's notice before InitializeLog
CPP_LINE = re.compile(rb"^([IWEF]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl::InitializeLog)")


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """File descriptor 2 into a temporary file for the block; then its lines, without TensorFlow's
    C++ log lines, back to stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True) if not CPP_LINE.match(line)]
            if kept:
                os.write(2, b"".join(kept))


class _QuietLoader(importlib.abc.Loader):
    """Runs the wrapped loader's ``exec_module`` under ``filtered_stderr``; everything else is its."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with filtered_stderr():
            self.loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders do, its loader wrapped (once)."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet(argv: list[str]) -> None:
    """Keeps TensorFlow's C++ start-up lines off stderr for this process (see the module docstring),
    unless ``--tf-logs`` is in ``argv`` or the user set ``TF_CPP_MIN_LOG_LEVEL``."""
    if FLAG in argv or LEVEL in os.environ or "tensorflow" in sys.modules:
        return
    os.environ[LEVEL] = "3"
    if not any(isinstance(finder, _QuietTensorFlow) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
