"""``benchmarks.generator_throughput`` runs on a tiny config and reports consistent numbers."""

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO


@pytest.mark.slow  # a benchmark run by hand (benchmarks/README.md)
def test_generator_throughput_benchmark_prints_json():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.generator_throughput", "--config", "configs/fashion_mnist32.yaml",
         "--set", "model.ch=4", "--batch-sizes", "1,3", "--iters", "3", "--warmup", "1",
         "--tflite-variants", "float32", "--threads", "1"],
        cwd=REPO, check=False, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert set(report["results"]) == {"keras", "saved_model", "tflite_float32"}
    assert report["tflite_threads"] == 1 and report["weights"] == "random initial"
    for backend in report["results"].values():
        assert set(backend) == {"1", "3"}
        for batch, timing in backend.items():
            assert len(timing["times_s"]) == 3
            assert timing["median_s"] == pytest.approx(sorted(timing["times_s"])[1], rel=1e-6)
            assert timing["images_per_s"] == pytest.approx(int(batch) / timing["median_s"], rel=1e-3)
    assert report["environment"]["tensorflow"].startswith("2.")
