"""What a start costs on a large folder of photographs: ``python -m benchmarks.folder_start --dir DIR``.

Makes ``--images`` JPEGs (default 20,000) of photo-like sizes (each side 300-1200 px) and content
(random smooth colour fields with fine grain, so JPEG sizes are those of photographs, not of flat
colour; ``--unique`` of them drawn, the others byte copies) in three class folders with nested year
folders under ``DIR`` (kept: a second run reuses them), then measures, each in its own process (wall seconds, the process's CPU seconds and the
system's load before and after: wall seconds grow when other processes share the CPUs, CPU seconds
do not, so CPU seconds are the robust number):

- the folder survey (``data.image_folder.list_folder``: listing, headers, decoding each file)
  with a cold cache and a warm one (``data.survey_cache``), and its seconds per 1000 images;
- ``sagan-train --config folder64`` from launch to the end of its first step (``--steps 1``), with
  a cold survey cache and a warm one (a small network, ``model.ch=8``, so that the start, not the
  step, is measured; the first step waits for ``--shuffle-buffer`` decoded images);
- the input pipeline's images/s (``make_dataset``, the folder configs' data settings, no cache) at
  64 and 128 px against the images/s a training step of ``folder64`` / ``folder128`` consumes
  (global batch / s per step on a synthetic batch, the precision ``auto`` picks here).

Prints one JSON document (``benchmarks.common.environment`` included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLASSES = ("beach", "forest", "city")


def make_photo(args: tuple[Path, int]) -> int:
    """One JPEG: a smooth random colour field (bicubic from 6x6) with Gaussian grain; returns its bytes."""
    import numpy as np
    from PIL import Image

    path, seed = args
    rng = np.random.default_rng(seed)
    w, h = (int(v) for v in rng.integers(300, 1201, 2))
    base = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    pixels = np.asarray(base, np.float32) + rng.normal(0, 6, (h, w, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path.stat().st_size


def make_folder(root: Path, images: int, unique: int) -> dict:
    """``images`` JPEGs under ``root/<class>/<year>/``: the first ``unique`` drawn (``make_photo``),
    the others byte copies of them in turn (decoding costs the same; making 20,000 photo-sized
    JPEGs on two shared cores would take hours). Existing files are kept."""
    from multiprocessing import Pool

    todo = [(root / CLASSES[i % 3] / str(2015 + i % 7) / f"{i:06d}.jpg", i) for i in range(images)]
    start = time.perf_counter()
    with Pool(os.cpu_count() or 2) as pool:
        pool.map(make_photo, [item for item in todo[:unique] if not item[0].exists()], chunksize=16)
    for path, i in todo[unique:]:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(todo[i % unique][0].read_bytes())
    sizes = [path.stat().st_size for path, _ in todo]
    return {"images": images, "drawn": min(unique, images), "seconds_to_make": round(time.perf_counter() - start, 1),
            "mean_jpeg_kib": round(sum(sizes) / len(sizes) / 1024, 1)}


def measured(command: list[str], env: dict) -> dict:
    """Runs ``command``; its wall and CPU seconds, the load before and after, its last stdout line (JSON)."""
    from benchmarks.common import load_average

    load, before = load_average()[0], resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{command} failed:\n{result.stderr[-3000:]}")
    out = {"wall_s": round(wall, 2), "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
           "load_1m_before_after": [load, load_average()[0]]}
    last = result.stdout.strip().splitlines()[-1:] or ["{}"]
    out = {**out, **(json.loads(last[0]) if last[0].startswith("{") else {})}
    print(json.dumps({"command": command[2:], **out}), file=sys.stderr, flush=True)  # each as it is measured
    return out


def survey_child(root: str) -> None:
    from sagan_tf.config import AUTO_CLASSES, DataConfig
    from sagan_tf.data.image_folder import list_folder

    start = time.perf_counter()
    found = list_folder(DataConfig(source="folder", path=root, num_classes=AUTO_CLASSES))
    print(json.dumps({"in_process_s": round(time.perf_counter() - start, 2), "images_found": len(found.files)}))


def pipeline_child(root: str, config: str, batches: int) -> None:
    from benchmarks.train_step import pipeline_rate
    from sagan_tf import config as config_lib
    from sagan_tf.data.image_folder import resolve_classes
    from sagan_tf.data.pipeline import make_dataset

    cfg = config_lib.load(config, [f"data.path={root}", "data.cache=false", "data.shuffle_buffer=64"])
    resolve_classes(cfg.data)
    rate = pipeline_rate(make_dataset(cfg.data, 64), 64, batches)
    print(json.dumps({"resolution": cfg.data.resolution, "pipeline_images_per_s": round(rate, 1)}))


def step_child(config: str, steps: int) -> None:
    import statistics

    import tensorflow as tf

    from benchmarks.train_step import synthetic_dataset
    from sagan_tf import config as config_lib
    from sagan_tf.trainer.precision import resolve_precision
    from sagan_tf.training.builders import build_sagan
    from sagan_tf.training.loop import make_step_function

    cfg = config_lib.load(config, ["data.path=unused", "data.num_classes=3"])
    strategy = tf.distribute.get_strategy()
    resolve_precision(cfg, strategy, None)
    model = build_sagan(cfg)
    batch = cfg.train.batch_size * cfg.train.d_steps
    iterator = iter(synthetic_dataset(cfg, batch))
    step = make_step_function(model, strategy)
    float(step(iterator)["d_loss"])  # trace and warm up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        float(step(iterator)["d_loss"])
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(json.dumps({"config": config, "precision": cfg.train.precision, "batch": batch,
                      "median_s_per_step": round(median, 3), "step_images_per_s": round(batch / median, 1)}))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.folder_start", description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", required=True, help="where the JPEGs are made (and kept)")
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--unique", type=int, default=400, help="JPEGs drawn; the others are copies of them")
    p.add_argument("--pipeline-batches", type=int, default=20, help="batches of 64 timed per resolution")
    p.add_argument("--steps", type=int, default=3, help="timed steps per config (after one warm-up)")
    p.add_argument("--shuffle-buffer", type=int, default=10000,
                   help="data.shuffle_buffer of the starts: the first step waits for that many decoded images")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        {"survey": lambda: survey_child(*rest), "pipeline": lambda: pipeline_child(rest[0], rest[1], int(rest[2])),
         "step": lambda: step_child(rest[0], int(rest[1]))}[kind]()
        return 0

    from benchmarks.common import environment, print_report

    root = Path(args.dir) / f"photos_{args.images}"
    result = {"command": "python -m benchmarks.folder_start " + " ".join(argv or sys.argv[1:]),
              "environment": environment(), "folder": make_folder(root, args.images, args.unique)}
    me = [sys.executable, "-m", "benchmarks.folder_start", "--dir", args.dir, "--child"]
    base_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory() as scratch:
        survey_env = dict(base_env, SAGAN_TF_CACHE=f"{scratch}/survey_cache")
        cold = measured([*me, "survey", str(root)], survey_env)
        warm = measured([*me, "survey", str(root)], survey_env)
        result["survey"] = {"cold": cold, "warm": warm,
                            "cold_cpu_s_per_1000": round(cold["cpu_s"] / args.images * 1000, 3),
                            "cold_wall_s_per_1000": round(cold["wall_s"] / args.images * 1000, 3)}
        start_env = dict(base_env, SAGAN_TF_CACHE=f"{scratch}/start_cache")
        train = [sys.executable, "-m", "sagan_tf.train", "--config", "folder64", "--steps", "1", "--verbose", "0",
                 "--set", f"data.path={root}", "model.ch=8", f"data.shuffle_buffer={args.shuffle_buffer}"]
        result["start_to_first_step"] = {
            which: measured([*train, "--logdir", f"{scratch}/run_{which}"], start_env) for which in ("cold", "warm")
        }
        result["pipeline"] = [measured([*me, "pipeline", str(root), config, str(args.pipeline_batches)], survey_env)
                              for config in ("folder64", "folder128")]
        result["step"] = [measured([*me, "step", config, str(args.steps)], base_env) for config in ("folder64", "folder128")]
    return print_report(result)


if __name__ == "__main__":
    sys.exit(main())
