"""What every benchmark records next to its numbers (machine, load, versions, date), and the readers
and reports the benchmarks share."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path


def environment() -> dict:
    import keras
    import tensorflow as tf

    from sagan_tf.runs.record import cpu_model

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "processor": cpu_model(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def load_average() -> list[float]:
    """``os.getloadavg()``: runnable processes over 1, 5 and 15 minutes, recorded beside each timing
    (other processes compete for the same cores)."""
    return [round(x, 2) for x in os.getloadavg()]


def matmul_peak_gflops(dtype: str = "float32", n: int = 4096, repeats: int = 5) -> float:
    """Best-of-``repeats`` GFLOP/s of one n x n x n matrix product (2 n^3 FLOPs) on the CPU it runs on.

    The reference for "efficiency": a model step cannot be expected to run faster than the
    machine's dense matrix-multiply rate, and measuring it in the same run cancels most of the
    noise of other processes.
    """
    import time

    import tensorflow as tf

    a = tf.cast(tf.random.stateless_uniform([n, n], seed=[1, 2], minval=-1, maxval=1), dtype)
    b = tf.cast(tf.random.stateless_uniform([n, n], seed=[3, 4], minval=-1, maxval=1), dtype)
    product = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y)[0, :1], tf.float32)))
    product(a, b).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return round(2 * n**3 / best / 1e9, 1)


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``: peak resident memory)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> bool:
    """Resets the peak resident memory ``VmHWM`` to the current RSS; False where Linux does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def print_report(result: dict) -> int:
    """Adds the environment to ``result``, prints it as JSON on stdout; returns exit status 0."""
    import json
    import sys

    json.dump({**result, "environment": environment()}, sys.stdout, indent=2)
    print()
    return 0


def read_scalars(directory: Path, tags: tuple[str, ...]) -> tuple[dict[str, dict[int, float]], float, float]:
    """{tag: {step: value}} of the event files in ``directory`` (the last value of a step wins), and the
    wall times of the first and last event."""
    import tensorflow as tf

    out: dict[str, dict[int, float]] = {tag: {} for tag in tags}
    times = []
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            times.append(event.wall_time)
            for value in event.summary.value:
                if value.tag in out:
                    out[value.tag][int(event.step)] = float(tf.make_ndarray(value.tensor))
    return out, (min(times) if times else float("nan")), (max(times) if times else float("nan"))
