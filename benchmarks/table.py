"""Markdown rows for benchmarks/README.md from benchmark JSON files.

``python -m benchmarks.table results/*.json`` prints one table per benchmark kind found
(train_step, attention_memory, learning_run), one row per file or case, so a re-run on a quiet
machine replaces the README's numbers without hand copying.
"""

from __future__ import annotations

import json
import sys


def _train_step_rows(reports: list[dict]) -> list[str]:
    rows = [
        "| run | s/step (median) | images/s | model TFLOP/step | executed TFLOP/step | achieved GFLOP/s "
        "| matmul peak GFLOP/s (dtype) | efficiency | data wait | losses finite | load 1m before/after | date |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        jit = r["jit_compile"]
        run = f"{r['config']} b{r['batch_size']} {r['precision']} {r['strategy']}x{r['replicas']}"
        run += " jit" + ("" if jit["used"] else " (fell back)") if jit["requested"] else ""
        run += f" data={r['data']}"
        wait = r.get("data_wait_fraction")
        loads = r["load_average_before_after"]
        rows.append(
            f"| {run} | {r['median_s_per_step']:.3f} | {r['images_per_s']:.1f} | "
            f"{r['model_flops_per_step'] / 1e12:.3f} | {r['executed_flops_per_step'] / 1e12:.3f} | "
            f"{r['achieved_gflop_per_s']:.1f} | {r['matmul_peak_gflop_per_s']:.1f} "
            f"({r.get('matmul_peak_dtype', 'float32')}) | {r['efficiency']:.3f} | "
            f"{'-' if wait is None else f'{wait:.4f}'} | {r['losses_finite']} | "
            f"{loads[0][0]} / {loads[1][0]} | {r['environment']['date'][:16]} |"
        )
    return rows


def _attention_rows(reports: list[dict]) -> list[str]:
    rows = [
        "| variant | case | mode | batch | one map MiB | peak TF MiB | peak RSS growth MiB | s | date |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        for c in r["cases"]:
            mode = c["mode"] + (f" ({c['query_chunk']} queries)" if c["query_chunk"] else "")
            rows.append(
                f"| {r['variant']} | {c['case']} ({c['resolution']}x{c['resolution']}x{c['channels']}) | {mode} | "
                f"{r['batch_size']} | {c['map_mib']} | {c['peak_tf_mib']} | {c['peak_rss_delta_mib']} | "
                f"{c['seconds']} | {r['environment']['date'][:16]} |"
            )
    return rows


def _learning_rows(reports: list[dict]) -> list[str]:
    rows = [
        "| precision | steps | losses finite | class-mean RMSE before -> after | last d_loss / g_loss | s | date |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        for run in r["runs"]:
            last = run["losses"][-1] if run["losses"] else {"d_loss": float("nan"), "g_loss": float("nan")}
            rows.append(
                f"| {run['precision']} | {r['steps']} | {run['losses_finite']} | "
                f"{run['class_mean_rmse_before']} -> {run['class_mean_rmse_after']} | "
                f"{last['d_loss']} / {last['g_loss']} | {run['seconds']} | {r['environment']['date'][:16]} |"
            )
    return rows


RENDERERS = {"train_step": _train_step_rows, "attention_memory": _attention_rows, "learning_run": _learning_rows}


def render(reports: list[dict]) -> str:
    out = []
    for kind, renderer in RENDERERS.items():
        mine = [r for r in reports if r.get("benchmark") == kind]
        if mine:
            out += [f"{kind}:", ""] + renderer(mine) + [""]
    return "\n".join(out)


def main(argv=None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    reports = []
    for path in paths:
        with open(path) as f:
            reports.append(json.load(f))
    print(render(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
