"""``sagan-export``: the next free version beside existing ones, the line it writes, and its
mistakes as one ``error: ...`` line with exit status 2 (the export itself: ``tests/serving``)."""

import json
import os
import subprocess
import sys

from tests.helpers import REPO
from tests.helpers.cli import run_main
from tests.helpers.exports import make_run

TOL = 1e-5  # SavedModel vs Keras, as tests/serving/test_export.py


def test_cli_exports_next_to_existing_versions(tmp_path):
    run = make_run(tmp_path / "run")
    out = tmp_path / "models" / "sagan"
    (out / "3").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "sagan_tf.cli.export", "--logdir", str(run.logdir), "--out", str(out),
         "--formats", "saved_model"],
        cwd=REPO, check=False, capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"wrote {out / '4'}" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["3", "4"]
    assert not (out / "4" / "tflite").exists()
    manifest = json.loads((out / "4" / "export.json").read_text())
    assert manifest["version"] == 4 and list(manifest["files"]) == ["saved_model"]
    assert manifest["max_abs_error_vs_keras"]["saved_model"] <= TOL


def test_user_errors_are_one_line(tmp_path, capsys):
    from sagan_tf.cli.export import main

    for args, message in [
        (["--logdir", str(tmp_path / "nope")], "is not a training run (no config.yaml)"),
        (["--pretrained", "nope"], "no pretrained generator 'nope'"),
        (["--logdir", str(tmp_path), "--formats", "onnx"], "unknown export format onnx"),
    ]:
        assert run_main(main, [*args, "--out", str(tmp_path / "models")]) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], (args, errors)
    assert not (tmp_path / "models").exists()
