"""``--checkpoint best|latest|STEP|PATH`` on sagan-sample, -export, -explore and -visualize (one
helper, ``runs.choice``), on the session's tiny run that kept its best checkpoint by FID."""

import json

import numpy as np
import pytest
from PIL import Image

from sagan_tf.cli import explore, export, sample, visualize
from sagan_tf.serving.generators import load_generator
from tests.helpers.cli import TINY_RUN_STEPS, run_main


def best_entry(logdir):
    (entry,) = json.loads((logdir / "best" / "best.json").read_text())["checkpoints"]
    return entry


def grid(tmp_path, logdir, checkpoint, capsys):
    out = tmp_path / f"{checkpoint}.png"
    assert run_main(sample.main, ["--logdir", str(logdir), "--out", str(out), "--n", "2", "--checkpoint", checkpoint]) == 0
    return np.asarray(Image.open(out)), capsys.readouterr().err


def test_sample_takes_best_a_step_or_latest(tiny_run, tmp_path, capsys):
    logdir, _ = tiny_run
    entry = best_entry(logdir)
    best, said = grid(tmp_path, logdir, "best", capsys)
    reason = f"best by fid = {entry['value']:.4g} at step {entry['step']} of 1 kept"
    assert reason in said
    by_step, _ = grid(tmp_path, logdir, str(entry["step"]), capsys)
    np.testing.assert_array_equal(best, by_step)
    first, said = grid(tmp_path, logdir, "3", capsys)
    latest, said_latest = grid(tmp_path, logdir, "latest", capsys)
    assert "step 3, as asked" in said and f"latest, step {TINY_RUN_STEPS}" in said_latest
    assert (first != latest).any()
    np.testing.assert_array_equal(best, first if entry["step"] == 3 else latest)
    assert run_main(sample.main, ["--logdir", str(logdir), "--out", str(tmp_path / "x.png"), "--checkpoint", "5"]) == 2
    assert "no checkpoint of step 5" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


def test_the_export_names_its_checkpoint_and_why(tiny_run, tmp_path, capsys):
    logdir, _ = tiny_run
    entry = best_entry(logdir)
    out = tmp_path / "models"
    argv = ["--logdir", str(logdir), "--out", str(out), "--formats", "saved_model", "--checkpoint", "best"]
    assert run_main(export.main, argv) == 0
    reason = f"best by fid = {entry['value']:.4g} at step {entry['step']} of 1 kept"
    assert reason in capsys.readouterr().err
    source = json.loads((out / "1" / "export.json").read_text())["source"]
    assert source["checkpoint"] == str(logdir / "best" / f"ckpt-{entry['step']}")
    assert (source["step"], source["chosen"], source["reason"]) == (entry["step"], "best", reason)
    card = (out / "1" / "MODEL_CARD.md").read_text()
    assert f"- Checkpoint: step {entry['step']}, {reason}." in card


def test_explore_and_visualize_take_the_flag(tiny_run, tmp_path, capsys):
    logdir, _ = tiny_run
    generator = load_generator(logdir, checkpoint="3")
    assert generator.info.source.endswith("(generator_ema of ckpt-3: step 3, as asked)")
    args = explore.parse_args(["--model", str(tmp_path), "--checkpoint", "best"])
    with pytest.raises(Exception, match="--checkpoint selects a run's checkpoint"):
        explore.check_args(args)
    out = tmp_path / "attention.png"
    argv = ["attention", "--logdir", str(logdir), "--out", str(out), "--checkpoint", "best", "--classes", "1"]
    assert run_main(visualize.main, argv) == 0 and out.exists()
    assert "best by fid" in capsys.readouterr().err
