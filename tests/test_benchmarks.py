"""The benchmark harness runs on a tiny config and reports consistent numbers."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_train_step_benchmark_prints_json():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.train_step", "--config", "configs/fashion_mnist32.yaml",
         "--batch-size", "8", "--steps", "3", "--warmup", "1", "--set", "model.ch=4", "model.z_dim=16"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["batch_size"] == 8 and report["steps_timed"] == 3 and len(report["step_times_s"]) == 3
    assert report["median_s_per_step"] == pytest.approx(sorted(report["step_times_s"])[1], abs=1e-5)
    assert report["images_per_s"] == pytest.approx(8 / report["median_s_per_step"], rel=1e-3)
    assert report["environment"]["tensorflow"].startswith("2.")
