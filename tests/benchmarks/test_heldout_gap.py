"""benchmarks.heldout_gap: window means of the held-out view's scalars, read from real event files."""

import json

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import heldout_gap


def write_view(run, steps, d_train, d_heldout, d_generated):
    """Event files as ``training.heldout.HeldoutView`` writes them (tf.summary.scalar, v2 tensors)."""
    writer = tf.summary.create_file_writer(str(run / "train"))
    with writer.as_default():
        for step, a, b, c in zip(steps, d_train, d_heldout, d_generated, strict=True):
            tf.summary.scalar("overfitting/d_train", a, step=step)
            tf.summary.scalar("overfitting/d_heldout", b, step=step)
            tf.summary.scalar("overfitting/d_generated", c, step=step)
            tf.summary.scalar("overfitting/gap", a - b, step=step)
            tf.summary.scalar("d_loss", 1.0, step=step)  # other scalars are ignored
    writer.close()


def test_window_means_match_a_hand_computation(tmp_path, capsys):
    rng = np.random.default_rng(0)
    steps = list(range(0, 1001, 100))  # step 0 is the view before training: in no window
    d_train, d_heldout, d_generated = (rng.standard_normal(len(steps)).astype(np.float32) for _ in range(3))
    run = tmp_path / "baseline_s0"
    write_view(run, steps, d_train, d_heldout, d_generated)

    code = heldout_gap.main(["--run", f"baseline={run}", "--window", "400", "--out", str(tmp_path / "g.json")])
    assert code == 0
    windows = json.loads((tmp_path / "g.json").read_text())["runs"][0]["windows"]
    # (0, 400] holds steps 100-400, (400, 800] 500-800, (800, 1200] cut at the last view: 900-1000
    expected_spans = [(0, 400, [1, 2, 3, 4]), (400, 800, [5, 6, 7, 8]), (800, 1000, [9, 10])]
    assert [(w["from"], w["to"], w["views"]) for w in windows] == [(a, b, len(i)) for a, b, i in expected_spans]
    for w, (_, _, idx) in zip(windows, expected_spans, strict=True):
        gap = np.mean(d_train[idx].astype(np.float64) - d_heldout[idx])
        assert w["gap"] == pytest.approx(gap, abs=1e-4)
        assert w["d_train"] == pytest.approx(np.mean(d_train[idx]), abs=1e-4)
        assert w["d_generated"] == pytest.approx(np.mean(d_generated[idx]), abs=1e-4)
    capsys.readouterr()

    # --until compares runs at a common step; the table has one column per run
    other = tmp_path / "diffaugment_s0"
    write_view(other, steps[:6], d_train[:6], d_heldout[:6], d_generated[:6])
    heldout_gap.main(["--run", f"baseline={run}", "--run", f"DiffAugment={other}", "--window", "250",
                      "--until", "500", "--table"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| steps | baseline (baseline_s0) | DiffAugment (diffaugment_s0) |"
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| 0-250", "| 250-500"]
    assert lines[3].split(" | ")[1] == f"{np.mean(d_train[3:6].astype(np.float64) - d_heldout[3:6]):+.3f}"


def test_a_run_without_the_view_is_one_clear_line(tmp_path):
    run = tmp_path / "run"
    writer = tf.summary.create_file_writer(str(run / "train"))
    with writer.as_default():
        tf.summary.scalar("d_loss", 1.0, step=1)
    writer.close()
    with pytest.raises(SystemExit, match="no overfitting/gap scalars"):
        heldout_gap.main(["--run", f"x={run}"])
    with pytest.raises(SystemExit, match="no TensorBoard events"):
        heldout_gap.main(["--run", f"x={tmp_path / 'missing'}"])
