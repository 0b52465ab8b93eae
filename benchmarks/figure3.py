"""SAGAN Figure 3 in miniature from training runs: ``python -m benchmarks.figure3 RUN_DIR ... --out docs/figure3``.

Reads the in-training domain FID and IS (TensorBoard scalars ``fid`` and ``is`` of ``log.fid_every``,
``RUN_DIR/train/events.*``) of runs of the three settings of paper section 5.1
(``configs/ablation/fashion_mnist32_sn_d``, ``_sn_gd``, ``_sn_gd_ttur``), groups them by setting
(read from each run's ``config.yaml``: spectral norm in G, learning rates, D steps) and writes

* ``OUT.png``: FID and IS against training steps, one colour per setting, every seed a thin line,
  the mean over seeds a thick one;
* the Markdown table of the final values, per run and per setting (mean and the seeds' range),
  printed on stdout and, with ``--page FILE``, written into FILE between the lines
  ``<!-- figure3-table -->`` and ``<!-- /figure3-table -->``.

Columns: the FID and IS at the last measured step, the mean FID over the last ``--tail`` steps
(less noisy than one point), the best FID and its step, "rise" = final FID - best FID (how far a
run fell back from its best: the paper's instability shows as FID rising again) and "ups" = the sum
of every increase of the FID from one measurement to the next (0 for a curve that only falls).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TABLE_BEGIN, TABLE_END = "<!-- figure3-table -->", "<!-- /figure3-table -->"

# Paper section 5.1's names, in the order of its Figure 3.
SETTINGS = ("SN on D", "SN on G/D", "SN on G/D + TTUR")
COLOURS = {"SN on D": "tab:red", "SN on G/D": "tab:blue", "SN on G/D + TTUR": "tab:green"}


@dataclass
class Run:
    path: Path
    setting: str
    seed: int
    steps: np.ndarray  # steps at which FID was measured
    fid: np.ndarray
    inception_score: np.ndarray  # NaN where no IS was logged
    start: float  # wall time (s since the epoch) of the first and last event
    end: float


def setting_of(cfg) -> str:
    """The paper's name of a run's setting, from its config."""
    m, t = cfg.model, cfg.train
    if t.d_steps != 1:
        return f"G SN {m.g_spectral_norm}, lr {t.g_lr:g}/{t.d_lr:g}, {t.d_steps} D steps"
    if not m.g_spectral_norm:
        return "SN on D" if t.g_lr == t.d_lr else f"SN on D, lr {t.g_lr:g}/{t.d_lr:g}"
    if t.g_lr == t.d_lr:
        return "SN on G/D"
    return "SN on G/D + TTUR" if t.d_lr > t.g_lr else f"SN on G/D, lr {t.g_lr:g}/{t.d_lr:g}"


def load_run(path: str | Path) -> Run:
    from benchmarks.common import read_scalars
    from sagan_tf.runs.run_dir import SUMMARY_DIR, load_run_config

    path = Path(path)
    cfg = load_run_config(path)
    scalars, start, end = read_scalars(path / SUMMARY_DIR, ("fid", "is"))
    steps = np.array(sorted(scalars["fid"]), dtype=np.int64)
    if not len(steps):
        raise SystemExit(f"error: {path} has no fid scalars (train with log.fid_every > 0)")
    fid = np.array([scalars["fid"][s] for s in steps])
    inception_score = np.array([scalars["is"].get(int(s), np.nan) for s in steps])
    return Run(path, setting_of(cfg), cfg.train.seed, steps, fid, inception_score, start, end)


def run_summary(run: Run, tail: int) -> dict:
    last = run.steps >= run.steps[-1] - tail + 1
    best = int(np.argmin(run.fid))
    return {
        "steps": int(run.steps[-1]),
        "fid": float(run.fid[-1]),
        "is": float(run.inception_score[-1]),
        "tail_fid": float(run.fid[last].mean()),
        "best_fid": float(run.fid[best]),
        "best_step": int(run.steps[best]),
        "rise": float(run.fid[-1] - run.fid[best]),
        "ups": float(np.sum(np.maximum(np.diff(run.fid), 0.0))),
    }


def _ordered(groups: dict) -> list[str]:
    return [s for s in SETTINGS if s in groups] + sorted(s for s in groups if s not in SETTINGS)


def group(runs: list[Run]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = {}
    for run in sorted(runs, key=lambda r: r.seed):
        out.setdefault(run.setting, []).append(run)
    return {s: out[s] for s in _ordered(out)}


def _spread(values: list[float]) -> str:
    values = np.asarray(values)
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{values.mean():.2f} ({values.min():.2f}-{values.max():.2f})"


def table(groups: dict[str, list[Run]], tail: int) -> str:
    """Markdown: one row per run, then one row per setting (mean, and the seeds' min-max)."""
    head = (
        f"| setting | seed | steps | final FID | mean FID, last {tail} steps | best FID (step) | rise: final - best "
        "| ups: FID increases, summed | final IS | wall time | finished (UTC) |"
    )
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for setting, runs in groups.items():
        for run in runs:
            s = run_summary(run, tail)
            hours = (run.end - run.start) / 3600
            finished = datetime.datetime.fromtimestamp(run.end, datetime.UTC).strftime("%Y-%m-%d %H:%M")
            rows.append(
                f"| {setting} | {run.seed} | {s['steps']} | {s['fid']:.2f} | {s['tail_fid']:.2f} | "
                f"{s['best_fid']:.2f} ({s['best_step']}) | {s['rise']:.2f} | {s['ups']:.2f} | {s['is']:.2f} | "
                f"{hours:.1f} h | {finished} |"
            )
    rows += ["", f"| setting | seeds | final FID | mean FID, last {tail} steps | best FID | rise | ups | final IS |",
             "|---|---|---|---|---|---|---|---|"]
    for setting, runs in groups.items():
        s = [run_summary(run, tail) for run in runs]
        rows.append(
            f"| {setting} | {len(runs)} | " + " | ".join(_spread([x[k] for x in s]) for k in ("fid", "tail_fid", "best_fid", "rise", "ups", "is")) + " |"
        )
    return "\n".join(rows)


def plot(groups: dict[str, list[Run]], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for setting, runs in groups.items():
        colour = COLOURS.get(setting)
        for run in runs:
            axes[0].plot(run.steps, run.fid, color=colour, lw=0.8, alpha=0.5, marker="o", ms=2)
            axes[1].plot(run.steps, run.inception_score, color=colour, lw=0.8, alpha=0.5, marker="o", ms=2)
        common = _common_steps(runs)
        if len(common):
            label = f"{setting} ({len(runs)} seeds)"
            axes[0].plot(common, _mean_at(runs, common, "fid"), color=colour, lw=2.2, label=label)
            axes[1].plot(common, _mean_at(runs, common, "inception_score"), color=colour, lw=2.2, label=label)
    axes[0].set(xlabel="training step (G updates)", ylabel="domain FID (lower is better)", yscale="log")
    axes[1].set(xlabel="training step (G updates)", ylabel="domain IS (higher is better)")
    axes[0].yaxis.set_major_formatter(ScalarFormatter())
    axes[0].yaxis.set_minor_formatter(NullFormatter())
    axes[0].set_yticks([t for t in (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200)
                        if axes[0].get_ylim()[0] <= t <= axes[0].get_ylim()[1]])
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle(title, fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _common_steps(runs: list[Run]) -> np.ndarray:
    common = runs[0].steps
    for run in runs[1:]:
        common = np.intersect1d(common, run.steps)
    return common


def _mean_at(runs: list[Run], steps: np.ndarray, key: str) -> np.ndarray:
    """The mean over ``runs`` of the series ``key`` at ``steps`` (which every run measured)."""
    return np.mean([getattr(r, key)[np.isin(r.steps, steps)] for r in runs], axis=0)


def write_into_page(page: Path, text: str) -> None:
    """Replaces what stands between the table markers of ``page`` with ``text``."""
    from sagan_tf import files

    content = page.read_text()
    if TABLE_BEGIN not in content or TABLE_END not in content:
        raise SystemExit(f"error: {page} has no {TABLE_BEGIN} ... {TABLE_END} lines")
    before, rest = content.split(TABLE_BEGIN, 1)
    _, after = rest.split(TABLE_END, 1)
    files.write_text(page, f"{before}{TABLE_BEGIN}\n{text}\n{TABLE_END}{after}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.figure3", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run directories (config.yaml and train/events.*)")
    p.add_argument("--out", required=True, help="the plot is written to OUT.png")
    p.add_argument("--page", help="Markdown file whose table (between the figure3-table markers) is replaced")
    p.add_argument("--tail", type=int, default=1000, help="steps at the end over which the FID is averaged")
    p.add_argument("--title", default="SAGAN Figure 3 in miniature: Fashion-MNIST 32x32, ch 16, batch 32")
    args = p.parse_args(argv)

    groups = group([load_run(path) for path in args.runs])
    plot(groups, Path(args.out + ".png"), args.title)
    text = table(groups, args.tail)
    print(text)
    if args.page:
        write_into_page(Path(args.page), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
