"""The model card ``sagan-export`` writes: the run's steps, wall-clock and hardware from its
``training.json``, and the metrics ``evaluate`` (``sagan-evaluate``) kept for the exported checkpoint."""

from sagan_tf.evaluation.evaluate import evaluate
from sagan_tf.runs import record
from sagan_tf.runs.run_dir import read_evaluations
from sagan_tf.serving.export import export_run
from sagan_tf.serving.model_card import CARD_FILE
from tests.helpers.cli import TINY_RUN_STEPS


def test_export_writes_a_card_with_the_run_record_and_the_kept_evaluation(tiny_run, feature_model, tfds_dir, tmp_path):
    logdir, cache = tiny_run
    options = dict(num_samples=40, metrics="fid", feature_model=feature_model, data_dir=tfds_dir, split="test",
                   num_real=200, stats_cache=str(cache), batch_size=40, seed=5)
    result = evaluate(logdir, **options)
    kept = [e for e in read_evaluations(logdir, TINY_RUN_STEPS) if e.get("seed") == 5]
    assert kept == [result]
    evaluate(logdir, **options)  # the same protocol again replaces, not adds
    assert len([e for e in read_evaluations(logdir, TINY_RUN_STEPS) if e.get("seed") == 5]) == 1

    sessions = record.read(logdir)
    assert sessions and sessions[-1]["end_step"] == TINY_RUN_STEPS and sessions[0]["start_step"] == 0
    target, _ = export_run(logdir, tmp_path / "models", formats=("saved_model",))
    card = (target / CARD_FILE).read_text()
    assert f"- Steps: {TINY_RUN_STEPS}, trained in" in card
    assert record.describe_hardware(sessions[0]["hardware"]) in card
    row = next(line for line in card.splitlines() if line.startswith("| FID |") and "| 5 |" in line)
    assert f"{result['fid']:.4g}" in row and result["features"] in row and "200 of `test`" in row
    assert "T-shirt/top" in card and "Intended use and limits" in card


def test_a_run_without_record_or_evaluations_says_so(conditional_export):
    card = (conditional_export.version_dir / CARD_FILE).read_text()
    assert "Wall-clock and hardware: not recorded by this run." in card
    assert "No metric was measured on this checkpoint" in card


def test_the_training_line_follows_the_config():
    from sagan_tf import config as config_lib
    from sagan_tf.serving.model_card import model_card

    with_ema = model_card(config_lib.load("fashion_mnist32"), 7, "generator_ema", 10, [], [])
    without = model_card(config_lib.load("fashion_mnist32", ["train.ema_decay=0"]), 7, "generator", 10, [], [])
    assert "EMA decay 0.995 from step 1000, seed 0." in with_ema and "moving average of G's weights" in with_ema
    assert "global batch 32, no EMA, seed 0." in without and "; the trained G." in without
