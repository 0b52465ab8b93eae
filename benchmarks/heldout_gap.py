"""D's held-out gap of runs over training: the ``overfitting/*`` scalars of ``log.heldout``, averaged
over windows of steps, as JSON and a Markdown table.

    python -m benchmarks.heldout_gap --run "baseline=runs/baseline_s0" --run "baseline=runs/baseline_s1" \
        --run "DiffAugment=runs/diffaugment_s0" ... --window 1000 --out gap.json --table

The view (``sagan_tf.training.heldout``) writes D's mean output on training images (``d_train``),
on held-out images of the same distribution (``d_heldout``) and on generated images
(``d_generated``) every ``log.heldout_every`` steps; ``gap = d_train - d_heldout`` opens when D
memorises its training images (Karras et al. 2020, figure 1). One view is noisy (500 images, D
moving every step), so this averages every view whose step lies in ``(a, a + window]``. Runs with
the same label are one setting's seeds: the table gives each run's window means, seed after seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SCALARS = ("gap", "d_train", "d_heldout", "d_generated")


def read_view(run: Path) -> dict[str, dict[int, float]]:
    """{scalar: {step: value}} of the run's ``overfitting/*`` TensorBoard scalars (the last write of a
    step wins: a resumed run rewrites the step it resumed at)."""
    from benchmarks.common import read_scalars
    from sagan_tf.runs.run_dir import SUMMARY_DIR

    directory = run / SUMMARY_DIR
    if not any(directory.glob("events.out.tfevents.*")):
        raise SystemExit(f"{run}: no TensorBoard events in {directory}")
    scalars, _, _ = read_scalars(directory, tuple(f"overfitting/{name}" for name in SCALARS))
    if not scalars["overfitting/gap"]:
        raise SystemExit(f"{run}: no overfitting/gap scalars (train with log.heldout > 0)")
    return {tag.removeprefix("overfitting/"): values for tag, values in scalars.items()}


def window_means(values: dict[str, dict[int, float]], window: int, until: int | None = None) -> list[dict]:
    """[{from, to, views, gap, d_train, d_heldout, d_generated}]: the mean of each scalar over the
    views with step in ``(from, to]``, windows of ``window`` steps from step 0 up to ``until`` (default:
    the last view). Step 0 (before training) is in no window."""
    steps = sorted(values["gap"])
    last = steps[-1] if until is None else until
    rows = []
    for start in range(0, last, window):
        inside = [s for s in steps if start < s <= min(start + window, last)]
        if not inside:
            continue
        row = {"from": start, "to": min(start + window, last), "views": len(inside)}
        for name in SCALARS:
            row[name] = round(sum(values[name][s] for s in inside) / len(inside), 4)
        rows.append(row)
    return rows


def table(results: list[dict]) -> list[str]:
    """Markdown: one row per window, one column per run (``label (run directory name)``), the mean gap."""
    headers = [f"{r['label']} ({Path(r['run']).name})" for r in results]
    lines = ["| steps | " + " | ".join(headers) + " |", "|---|" + "---|" * len(results)]
    spans = sorted({(w["from"], w["to"]) for r in results for w in r["windows"]})
    for span in spans:
        cells = []
        for r in results:
            match = [w for w in r["windows"] if (w["from"], w["to"]) == span]
            cells.append(f"{match[0]['gap']:+.3f}" if match else "")
        lines.append(f"| {span[0]}-{span[1]} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.heldout_gap", description=__doc__.splitlines()[0])
    p.add_argument("--run", action="append", default=[], metavar="LABEL=RUN_DIR", help="a run and its setting's label")
    p.add_argument("--window", type=int, default=500, help="steps per window")
    p.add_argument("--until", type=int, help="ignore views after this step (compare runs at a common step)")
    p.add_argument("--out", help="write the results as JSON")
    p.add_argument("--table", action="store_true", help="print the Markdown table of mean gaps")
    args = p.parse_args(argv)
    if not args.run:
        p.error("give at least one --run LABEL=RUN_DIR")
    if args.window < 1:
        p.error("--window must be at least 1")
    results = []
    for spec in args.run:
        label, sep, run = spec.partition("=")
        if not sep or not label or not run:
            p.error(f"--run takes LABEL=RUN_DIR, got {spec!r}")
        values = read_view(Path(run))
        results.append({"label": label, "run": run, "windows": window_means(values, args.window, args.until)})
    text = json.dumps({"benchmark": "heldout_gap", "window": args.window, "until": args.until, "runs": results}, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print("\n".join(table(results)) if args.table else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
