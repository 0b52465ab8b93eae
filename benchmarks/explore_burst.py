"""A burst of concurrent maximum requests against sagan-explore: ``python -m benchmarks.explore_burst``.

Starts ``sagan-explore`` in its own process on an export (``--model``; default: the shipped
``fashion_mnist32`` generator exported, SavedModel only, to a temporary directory), with the command
line's limits unless ``--max-images``, ``--batch``, ``--wait`` or ``--max-connections`` say otherwise.
After one warm-up request of each kind it fires each burst of ``--bursts`` (default 8,32,96)
concurrent maximum-size requests, one connection and one thread each, released together:
``--kind grid`` asks every class times the most seeds a grid holds, ``interpolation`` the most
frames, ``mixed`` alternates the two. Per burst it reports the status counts (503s split into the
app's, JSON with ``Retry-After``, and uvicorn's beyond ``--max-connections``), latency percentiles
per status, the images the 200s carried (each answer checked against the first answer to the same
request) and images per second, and the server process's resident memory: before the burst and
its peak during it (``VmHWM``, reset before each burst through ``/proc/PID/clear_refs``; also the
peak of ``VmRSS`` sampled every 20 ms). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def proc_status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def reset_peak(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS (Linux >= 4.0)
        return True
    except OSError:
        return False


class RssSampler(threading.Thread):
    """The largest ``VmRSS`` of a process seen every ``interval`` seconds until ``stop``."""

    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kib = pid, interval, 0
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak_kib = max(self.peak_kib, proc_status_kib(self.pid, "VmRSS"))
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak_kib


def fetch(url: str, timeout: float) -> dict:
    """Status, seconds, body digest and length, ``Retry-After`` and content type of one GET."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as e:
        status, body, headers = e.code, e.read(), e.headers
    except OSError as e:  # refused or reset: counted, never raised
        return {"status": f"error: {type(e).__name__}", "seconds": time.perf_counter() - start}
    return {"status": status, "seconds": time.perf_counter() - start, "body": body,
            "retry_after": headers.get("Retry-After"), "json": headers.get("Content-Type", "").startswith("application/json")}


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q):
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]

    return {"count": len(ordered), "p50_s": round(at(0.5), 4), "p90_s": round(at(0.9), 4), "p99_s": round(at(0.99), 4),
            "max_s": round(ordered[-1], 4), "mean_s": round(statistics.fmean(ordered), 4)}


def images_in(kind: str, body: bytes) -> int:
    data = json.loads(body)
    return sum(len(row["images"]) for row in data["rows"]) if kind == "grid" else len(data["frames"])


def burst(base: str, requests: list[tuple[str, dict, int]], pid: int, timeout: float) -> dict:
    """Fires ``requests`` (kind, params, images) at once; what came back, and the server's memory."""
    before_kib = proc_status_kib(pid, "VmRSS")
    peak_reset = reset_peak(pid)
    sampler = RssSampler(pid)
    sampler.start()
    barrier = threading.Barrier(len(requests))
    answers: list[dict | None] = [None] * len(requests)

    def one(i):
        kind, params, _ = requests[i]
        url = f"{base}api/{kind}?{urllib.parse.urlencode(params)}"
        barrier.wait()
        answers[i] = fetch(url, timeout)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    sampled_kib = sampler.stop()
    hwm_kib = proc_status_kib(pid, "VmHWM")

    counts: dict[str, int] = {}
    latencies: dict[str, list[float]] = {}
    first_body: dict[str, str] = {}
    images, mismatched = 0, 0
    for (kind, params, expected_images), answer in zip(requests, answers, strict=True):
        status = answer["status"]
        if status == 503:
            status = "503_app_retry_after" if answer["retry_after"] and answer["json"] else "503_uvicorn"
        key = str(status)
        counts[key] = counts.get(key, 0) + 1
        latencies.setdefault(key, []).append(answer["seconds"])
        if answer["status"] == 200:
            digest = hashlib.sha256(answer["body"]).hexdigest()
            request_key = kind + json.dumps(params, sort_keys=True)
            first_body.setdefault(request_key, digest)
            same = digest == first_body[request_key] and images_in(kind, answer["body"]) == expected_images
            mismatched += not same
            images += expected_images if same else 0
    return {
        "requests": len(requests),
        "status_counts": dict(sorted(counts.items())),
        "latency_by_status": {key: percentiles(values) for key, values in sorted(latencies.items())},
        "wall_s": round(wall, 3),
        "images_served": images,
        "images_per_s": round(images / wall, 1),
        "answers_not_matching_the_first": mismatched,
        "server_rss_before_mib": round(before_kib / 1024, 1),
        "server_peak_rss_mib": round(hwm_kib / 1024, 1) if peak_reset else None,
        "server_sampled_peak_rss_mib": round(sampled_kib / 1024, 1),
    }


def maximum_requests(info: dict, kind: str, count: int) -> list[tuple[str, dict, int]]:
    """``count`` maximum-size requests of ``kind`` (all the same, so every answer must be the same)."""
    limits, classes = info["limits"], len(info["classes"])
    seeds = min(limits["max_count"], limits["max_grid"] // classes)
    grid = ("grid", {"seed": 1000, "count": seeds}, seeds * classes)
    last = classes - 1
    frames = limits["max_frames"]
    interpolation = ("interpolation", {"seed": 5, "label": 0, "seed_b": 6, "label_b": last, "frames": frames}, frames)
    kinds = {"grid": [grid], "interpolation": [interpolation], "mixed": [grid, interpolation]}[kind]
    return [kinds[i % len(kinds)] for i in range(count)]


def default_export(workdir: Path) -> Path:
    """The shipped ``fashion_mnist32`` generator exported (SavedModel only) under ``workdir``."""
    from sagan_tf import pretrained
    from sagan_tf.serving.export import export_run

    version_dir, _ = export_run(pretrained.directory("fashion_mnist32"), workdir / "models" / "sagan",
                                formats=("saved_model",))
    return version_dir.parent


def start_server(model: Path, flags: list[str]) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    args = [sys.executable, "-m", "sagan_tf.cli.explore", "--model", str(model), "--port", "0", *flags]
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    if not url.startswith("http://"):
        process.kill()
        raise RuntimeError(f"sagan-explore did not start: {process.stderr.read()[-2000:]}")
    return process, url


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.explore_burst", description=__doc__.splitlines()[0])
    p.add_argument("--model", help="sagan-export's --out directory (default: the shipped fashion_mnist32, exported)")
    p.add_argument("--bursts", default="8,32,96", help="concurrent requests of each burst, comma-separated")
    p.add_argument("--kind", choices=("grid", "interpolation", "mixed"), default="grid", help="what each request asks")
    p.add_argument("--timeout", type=float, default=600, help="seconds a client waits for an answer")
    for flag in ("--max-images", "--batch", "--wait", "--max-connections"):
        p.add_argument(flag, help=f"sagan-explore's {flag} (default: its own)")
    args = p.parse_args(argv)

    from benchmarks.common import print_report

    bursts = [int(n) for n in args.bursts.split(",") if n.strip()]
    flags = [item for flag in ("max_images", "batch", "wait", "max_connections") if getattr(args, flag) is not None
             for item in (f"--{flag.replace('_', '-')}", getattr(args, flag))]
    with tempfile.TemporaryDirectory(prefix="explore-burst-") as workdir:
        model = Path(args.model) if args.model else default_export(Path(workdir))
        process, base = start_server(model, flags)
        try:
            info = json.loads(urllib.request.urlopen(base + "api/info", timeout=60).read())
            for kind, params, _ in maximum_requests(info, "mixed", 2):  # warm up: trace and load every function
                fetch(f"{base}api/{kind}?{urllib.parse.urlencode(params)}", args.timeout)
            loaded_kib = proc_status_kib(process.pid, "VmRSS")
            results = []
            for count in bursts:
                requests = maximum_requests(info, args.kind, count)
                results.append({"kind": args.kind, "images_per_request": sorted({r[2] for r in requests}),
                                 **burst(base, requests, process.pid, args.timeout)})
            after = fetch(base + "api/info", 60)["status"]
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)
    return print_report({
        "benchmark": "explore_burst",
        "model": str(args.model) if args.model else "sagan_tf/pretrained/fashion_mnist32, exported (SavedModel)",
        "source": info["source"],
        "resolution": info["resolution"],
        "classes": len(info["classes"]),
        "precision": "float32",  # an export is a float32 model (sagan_tf.serving.export)
        "server_flags": flags,
        "limits": info["limits"],
        "server_rss_after_load_and_warmup_mib": round(loaded_kib / 1024, 1),
        "bursts": results,
        "info_status_after_the_bursts": after,
    })


if __name__ == "__main__":
    sys.exit(main())
