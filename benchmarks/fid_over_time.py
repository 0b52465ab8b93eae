"""Domain FID and IS of runs' EMA generators against wall-clock time, as a plot and a table.

    python -m benchmarks.fid_over_time --feature-model fmnist.keras --data-dir DIR \
        --run "old recipe=runs/old_s0" --run "old recipe=runs/old_s1" --run "new recipe=runs/new_s0" ... \
        --out results.json --plot docs/recipe_fid_vs_time.png [--table]
    python -m benchmarks.fid_over_time --from-json results.json --plot ... --table   # re-plot only

For every checkpoint kept in ``RUN/checkpoints`` (train with ``log.keep_checkpoints`` large
enough), or only the newest ``--last N``, the EMA generator (the raw G for runs without one) is
built in **float32**, whatever precision the run trained in, and ``--num-samples`` class-balanced
samples (z from a fixed seed) are scored with the feature model against the cached statistics of
the run's training data (``sagan-evaluate``'s code). A checkpoint's time is the wall-clock time from the run's first TensorBoard event (written
when training starts, after the model is built and the data loaded) to the event that logged its
step (checkpoint steps must be multiples of ``log.scalars_every``), so it includes everything the
run did: steps, checkpoints, pictures. Runs with the same label are one recipe's seeds: the table
gives each label's mean and spread at the last common time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path


def step_times(run: Path) -> tuple[float, dict[int, float]]:
    """(wall time of the first event, {step: wall time}) from the run's TensorBoard events."""
    import tensorflow as tf

    first, times = None, {}
    for path in sorted((run / "train").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            first = event.wall_time if first is None else min(first, event.wall_time)
            if any(v.tag == "d_loss" for v in event.summary.value):
                times[event.step] = event.wall_time
    if first is None:
        raise SystemExit(f"{run}: no TensorBoard events in {run / 'train'}")
    return first, times


def kept_checkpoints(run: Path, last: int = 0) -> list[str]:
    """Paths of the checkpoints kept in ``run``, oldest first; with ``last`` > 0 only the newest ``last``."""
    import tensorflow as tf

    from sagan_tf.runs.run_dir import CHECKPOINT_DIR, checkpoint_step

    state = tf.train.get_checkpoint_state(str(run / CHECKPOINT_DIR))
    if state is None:
        raise SystemExit(f"{run}: no checkpoints in {run / CHECKPOINT_DIR}")
    paths = sorted(state.all_model_checkpoint_paths, key=checkpoint_step)
    return paths[-last:] if last > 0 else paths


def evaluate_run(run: Path, extractor, num_samples: int, batch: int, data_dir, cache_dir, seed: int,
                 last: int = 0) -> list[dict]:
    """[{step, minutes, fid, is}] for every kept checkpoint of ``run`` (the newest ``last`` if > 0)."""
    from sagan_tf.evaluation.metrics.statistics import compute_metrics, generated_statistics, reference_statistics
    from sagan_tf.runs.run_dir import checkpoint_step, load_generator, load_run_config

    cfg = load_run_config(run)
    real = reference_statistics(cfg.data, extractor, cfg.data.split, 0, False, batch, data_dir, cache_dir)
    start, times = step_times(run)
    points = []
    for path in kept_checkpoints(run, last):
        step = checkpoint_step(path)
        if step not in times:
            print(f"{run}: step {step} has no logged time (log.scalars_every); skipped", file=sys.stderr)
            continue
        generator, _ = load_generator(run, checkpoint=path)  # the EMA G if the run has one, in float32
        generated = generated_statistics(generator, extractor, num_samples, cfg.data.num_classes, False, batch, seed)
        metrics = compute_metrics(["fid"] + (["is"] if generated.logits is not None else []), generated, real)
        points.append({"step": step, "minutes": round((times[step] - start) / 60, 3), **metrics})
        print(f"{run} step {step}: {points[-1]}", file=sys.stderr)
    return points


def summary_rows(results: list[dict]) -> list[str]:
    """Markdown rows: per label, the runs' final FID and IS at the last time every run reached."""
    by_label: dict[str, list[dict]] = {}
    for r in results:
        by_label.setdefault(r["label"], []).append(r)
    rows = [
        "| recipe | runs | at minute | steps by then | domain FID (mean, min-max) | domain IS (mean) |",
        "|---|---|---|---|---|---|",
    ]
    for label, runs in by_label.items():
        horizon = min(max(p["minutes"] for p in r["points"]) for r in runs)
        last = [max((p for p in r["points"] if p["minutes"] <= horizon), key=lambda p: p["minutes"]) for r in runs]
        fids = [p["fid"] for p in last]
        scores = [p["is"] for p in last if "is" in p]
        inception = f"{statistics.mean(scores):.2f}" if scores else "-"
        rows.append(
            f"| {label} | {len(runs)} | {horizon:.1f} | {', '.join(str(p['step']) for p in last)} | "
            f"{statistics.mean(fids):.2f} ({min(fids):.2f}-{max(fids):.2f}) | {inception} |"
        )
    return rows


def plot(results: list[dict], out: Path, axes: tuple[str, ...] = ("minutes",)) -> None:
    """FID against each of ``axes`` (``step``, ``minutes``), one panel each, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(r["label"] for r in results))
    colours = dict(zip(labels, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    fig, panels = plt.subplots(1, len(axes), figsize=(7 * len(axes), 4.2), dpi=110, squeeze=False)
    for ax, x in zip(panels[0], axes, strict=True):
        for r in results:
            points = sorted(r["points"], key=lambda p: p[x])
            seen = r["label"] in [line.get_label() for line in ax.get_lines()]
            ax.plot([p[x] for p in points], [p["fid"] for p in points], marker="o", markersize=3,
                    color=colours[r["label"]], label=None if seen else r["label"], alpha=0.85)
        ax.set_xlabel("wall-clock minutes" if x == "minutes" else "training steps")
        ax.set_ylabel("domain FID (EMA generator, float32)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fid_over_time", description=__doc__.splitlines()[0])
    p.add_argument("--run", action="append", default=[], metavar="LABEL=RUN_DIR", help="a run and its recipe's label")
    p.add_argument("--feature-model", help="domain classifier (sagan-train-feature-model)")
    p.add_argument("--data-dir", help="TFDS data directory of the runs' data")
    p.add_argument("--num-samples", type=int, default=5000, help="generated images per checkpoint")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--stats-cache", help="reference statistics cache directory")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled z")
    p.add_argument("--last", type=int, default=0, metavar="N", help="only each run's newest N checkpoints (0: all)")
    p.add_argument("--out", help="write the results as JSON")
    p.add_argument("--from-json", help="plot and tabulate saved results instead of evaluating")
    p.add_argument("--plot", help="PNG of FID against wall-clock minutes")
    p.add_argument("--plot-steps", action="store_true", help="a second panel: FID against training steps")
    p.add_argument("--table", action="store_true", help="print the Markdown summary table")
    args = p.parse_args(argv)

    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())["runs"]
    else:
        from sagan_tf.evaluation.metrics.feature_model import load_extractor

        extractor = load_extractor(args.feature_model, None)
        results = []
        for item in args.run:
            label, _, run = item.partition("=")
            points = evaluate_run(Path(run), extractor, args.num_samples, args.batch_size, args.data_dir,
                                  args.stats_cache, args.seed, args.last)
            results.append({"label": label, "run": run, "points": points})
        if args.out:
            from benchmarks.common import environment

            Path(args.out).write_text(json.dumps({"runs": results, "environment": environment()}, indent=1) + "\n")
    if args.plot:
        plot(results, Path(args.plot), ("step", "minutes") if args.plot_steps else ("minutes",))
    if args.table:
        print("\n".join(summary_rows(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
