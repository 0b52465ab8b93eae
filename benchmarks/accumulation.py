"""Gradient accumulation: a batch of 256 in 4 micro-batches against a batch of 64, on one device.

``python -m benchmarks.accumulation [--config configs/fashion_mnist32.yaml] [--precisions float32 mixed_bfloat16] [--steps 3]``

Each setting runs in its own process from the same seed (``model_memory.measure_mode``: the real
``SAGAN.train_step`` on a synthetic batch, one warm-up step, then ``--steps`` measured steps):
``train.batch_size=256, train.accumulate=4`` and ``train.batch_size=64, train.accumulate=1``, in
each precision. Printed per setting (JSON): the process's peak resident memory and TensorFlow's
allocator peak over the measured steps, the median seconds per step and per image (a step consumes
``batch_size x d_steps`` real images), CPU seconds per step, and the system load before and after
(other processes share the cores). Accumulation is meant to hold the memory of the micro-batch
while the update is that of the whole batch: the question is how close its peak comes to batch 64's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

SETTINGS = ((256, 4), (64, 1))  # (train.batch_size, train.accumulate)


def run_setting(config: str, batch: int, accumulate: int, precision: str, steps: int) -> dict:
    from benchmarks.common import load_average

    overrides = [f"train.batch_size={batch}", f"train.accumulate={accumulate}", f"train.precision={precision}"]
    cmd = [sys.executable, "-m", "benchmarks.model_memory", "--one", "--config", config, "--steps", str(steps),
           "--set", *overrides]
    before = load_average()
    out = subprocess.run(cmd, capture_output=True, text=True)
    row = {"batch_size": batch, "accumulate": accumulate, "precision": precision}
    if out.returncode:
        return {**row, "failed": True, "returncode": out.returncode, "stderr_tail": out.stderr.strip().splitlines()[-3:]}
    measured = json.loads(out.stdout)
    return {**row, **measured, "load_average_before_after": [before, load_average()]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.accumulation", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/fashion_mnist32.yaml")
    p.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"])
    p.add_argument("--steps", type=int, default=3, help="measured steps after one warm-up step")
    args = p.parse_args(argv)

    from benchmarks.common import print_report
    from sagan_tf import config as config_lib

    rows = []
    for precision in args.precisions:
        for batch, accumulate in SETTINGS:
            cfg = config_lib.load(args.config, [f"train.batch_size={batch}", f"train.accumulate={accumulate}"])
            row = run_setting(args.config, batch, accumulate, precision, args.steps)
            if not row.get("failed"):
                row["s_per_image"] = round(row["s_per_step"] / (batch * cfg.train.d_steps), 5)
            rows.append(row)
    return print_report({"benchmark": "accumulation", "config": args.config, "settings": rows})


if __name__ == "__main__":
    sys.exit(main())
