"""``sagan-train-feature-model``: the classifier written where --out says with one JSON line on
stdout, and its mistakes as one ``error: ...`` line with exit status 2 (the classifier itself:
``evaluation.feature_classifier``, made for the whole session by conftest's ``feature_model``)."""

import json

import pytest

from tests.helpers import REPO
from tests.helpers.cli import run_main

CONFIG = str(REPO / "configs" / "fashion_mnist32.yaml")


def test_it_writes_the_classifier_and_prints_one_json_line(tmp_path, tfds_dir, capsys):
    from sagan_tf.cli.train_feature_model import main

    out = tmp_path / "models" / "fmnist.keras"
    argv = ["--config", CONFIG, "--out", str(out), "--data-dir", tfds_dir, "--epochs", "1", "--steps-per-epoch", "1",
            "--batch-size", "16", "--eval-images", "16", "--set", "data.shuffle_buffer=16"]
    assert run_main(main, argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["out"] == str(out) and result["classes"] == 10 and 0 <= result["test_accuracy"] <= 1
    assert out.is_file() and [p.name for p in out.parent.iterdir()] == ["fmnist.keras"]


@pytest.mark.parametrize("argv, message", [
    (["--out", "model.h5"], "--out must end with .keras, got model.h5"),
    (["--out", "m.keras", "--epochs", "0"], "--epochs must be positive, got 0"),
    (["--out", "m.keras", "--set", "data.num_classes=0"], "a feature classifier needs a labelled dataset"),
])
def test_mistakes_are_one_line(tmp_path, capsys, argv, message):
    from sagan_tf.cli.train_feature_model import main

    assert run_main(main, ["--config", CONFIG, *argv]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {message}"), errors
