"""Time to write a training checkpoint: what a SIGTERM costs on top of finishing the step in flight.

``python -m benchmarks.checkpoint_save [--configs configs/imagenet128.yaml configs/cifar10_32.yaml] [--repeats 3] [--dir DIR] [--set k=v ...]``

For each config, in its own process: builds the whole training state as ``sagan-train`` does (G, D,
both Adam optimizers with their slots, G's EMA, the step counter; ``build_sagan``), then writes it
``--repeats`` times with the trainer's ``Checkpointer`` into ``--dir`` (default: a temporary
directory; the disk decides the time, so point it at the storage the runs use) and restores the
newest one into a fresh model. A signalled trainer's save may be the first of its process, which is
slower (it builds the save graph), so that one is reported separately. Printed (JSON) per config:
parameters, checkpoint bytes, the first save's seconds, min and median seconds of the later saves,
and the restore's seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_CONFIGS = ["configs/imagenet128.yaml", "configs/cifar10_32.yaml"]


def measure(config: str, overrides: list[str], repeats: int, directory: str) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from sagan_tf import config as config_lib
    from sagan_tf.runs.checkpointing import Checkpointer
    from sagan_tf.training.builders import build_sagan

    cfg = config_lib.load(config, overrides)
    keras.utils.set_random_seed(cfg.train.seed)
    model = build_sagan(cfg)
    checkpointer = Checkpointer(model, directory, keep=repeats + 1)
    times = []
    for step in range(1, repeats + 2):
        model.step.assign(step)
        start = time.perf_counter()
        path = checkpointer.save(step)
        times.append(time.perf_counter() - start)
    size = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory) if f.startswith(f"ckpt-{step}."))

    fresh = build_sagan(cfg)
    start = time.perf_counter()
    restored = Checkpointer(fresh, directory, keep=repeats + 1).restore_latest()
    restore_s = time.perf_counter() - start
    assert restored == path and int(fresh.step.numpy()) == step
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(model.generator.variables, fresh.generator.variables, strict=True))
    n_params = sum(int(np.prod(v.shape)) for v in model.generator.variables + model.discriminator.variables)
    return {
        "config": config,
        "overrides": overrides,
        "g_and_d_parameters": n_params,
        "checkpoint_variables": len(tf.train.list_variables(path)),
        "checkpoint_bytes": size,
        "first_save_s": round(times[0], 3),
        "save_s_min": round(min(times[1:]), 3),
        "save_s_median": round(statistics.median(times[1:]), 3),
        "restore_s": round(restore_s, 3),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.checkpoint_save", description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS)
    p.add_argument("--repeats", type=int, default=3, help="saves after the first one")
    p.add_argument("--dir", help="where to write (default: a temporary directory, removed afterwards)")
    p.add_argument("--set", nargs="+", action="extend", default=[], help="config overrides for every config")
    p.add_argument("--one", help=argparse.SUPPRESS)  # child process: one config into this directory
    args = p.parse_args(argv)

    if args.one:
        print(json.dumps(measure(args.configs[0], args.set, args.repeats, args.one)))
        return 0

    from benchmarks.common import load_average, print_report

    load_before = load_average()
    rows = []
    for config in args.configs:
        directory = tempfile.mkdtemp(prefix="ckpt-bench-", dir=args.dir)
        try:
            cmd = [sys.executable, "-m", "benchmarks.checkpoint_save", "--configs", config, "--repeats",
                   str(args.repeats), "--one", directory, *(["--set", *args.set] if args.set else [])]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{config} failed:\n" + "\n".join(out.stderr.strip().splitlines()[-10:]))
            rows.append(json.loads(out.stdout))
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    result = {"benchmark": "checkpoint_save", "repeats": args.repeats, "directory": args.dir or tempfile.gettempdir(),
              "configs": rows, "load_average_before_after": [load_before, load_average()]}
    return print_report(result)


if __name__ == "__main__":
    sys.exit(main())
