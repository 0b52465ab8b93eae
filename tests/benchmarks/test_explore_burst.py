"""``benchmarks.explore_burst`` serves the tiny explore export and reports consistent numbers: with
room for one maximum grid, no wait and four connections, a burst of two gets one 200 and one 503
of the app with Retry-After, a burst of five also meets uvicorn's 503s, and every count adds up."""

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO


def test_explore_burst_benchmark_prints_consistent_json(explore_export):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.explore_burst", "--model", str(explore_export.version_dir.parent),
         "--bursts", "2,5", "--max-images", "250", "--wait", "0", "--max-connections", "4"],
        cwd=REPO, check=False, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["precision"] == "float32" and report["resolution"] == 32 and report["classes"] == 10
    assert report["limits"]["max_images"] == 250 and report["limits"]["max_connections"] == 4
    assert report["info_status_after_the_bursts"] == 200
    assert [b["requests"] for b in report["bursts"]] == [2, 5]
    for burst in report["bursts"]:
        assert burst["kind"] == "grid" and burst["images_per_request"] == [250]  # 10 classes x 25 seeds
        counts = burst["status_counts"]
        assert set(counts) <= {"200", "503_app_retry_after", "503_uvicorn"} and sum(counts.values()) == burst["requests"]
        assert burst["images_served"] == 250 * counts.get("200", 0) and burst["answers_not_matching_the_first"] == 0
        assert burst["images_per_s"] == pytest.approx(burst["images_served"] / burst["wall_s"], rel=0.01)
        for status, latency in burst["latency_by_status"].items():
            assert latency["count"] == counts[status]
            assert 0 < latency["p50_s"] <= latency["p90_s"] <= latency["p99_s"] <= latency["max_s"]
        assert burst["server_peak_rss_mib"] >= burst["server_sampled_peak_rss_mib"] > 100
    # Two connections, within uvicorn's four: the first in line is served, the other finds no room at once.
    assert report["bursts"][0]["status_counts"] == {"200": 1, "503_app_retry_after": 1}
    # Five at once, beyond four: uvicorn refuses what arrives while four or more are open (possibly all).
    assert report["bursts"][1]["status_counts"].get("503_uvicorn", 0) >= 1
    assert report["environment"]["processor"]
