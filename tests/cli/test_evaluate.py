"""``sagan-evaluate`` on a tiny trained run, checked against an independent numpy FID."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from sagan_tf.cli.evaluate import main
from sagan_tf.training.run_dir import load_generator
from tests.helpers.cli import TINY_RUN_STEPS, read_events, run_main


def numpy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID from two feature sets; tr sqrt(S1 S2) as the sum of sqrt of the (real, >= 0) eigenvalues."""
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(eig)))


def evaluate_json(capsys, *argv):
    assert run_main(main, list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluate_matches_an_independent_fid_and_reuses_the_cache(tiny_run, feature_model, tfds_dir, capsys):  # noqa: F811
    logdir, _ = tiny_run
    cache = logdir.parent / "cli_stats"
    common = ["--logdir", str(logdir), "--num-samples", "100", "--feature-model", feature_model,
              "--data-dir", tfds_dir, "--split", "test", "--num-real", "300", "--stats-cache", str(cache),
              "--batch-size", "64"]
    result = evaluate_json(capsys, *common, "--metrics", "is,fid,intra_fid")
    assert result["generator"] == "generator_ema" and result["step"] == TINY_RUN_STEPS
    assert result["num_real"] == 300 and result["num_samples"] == 100
    assert sorted(result["intra_fid_per_class"]) == sorted(str(c) for c in range(10))
    assert result["intra_fid"] == pytest.approx(np.mean(list(result["intra_fid_per_class"].values())))
    assert 1.0 <= result["is"] <= 10.0

    # Independently: the EMA generator, z and balanced labels as documented, the Keras model's
    # `features` layer, the first 300 test images padded to 32x32.
    g, _ = load_generator(logdir)
    labels = np.arange(100) % 10
    fake = np.concatenate([
        g((tf.random.stateless_normal([64 if s == 0 else 36, g.z_dim], seed=[0, s]), tf.constant(labels[s:s + 64])),
          training=False).numpy() for s in (0, 64)])
    model = keras.saving.load_model(feature_model)
    features = keras.Model(model.inputs, model.get_layer("features").output)
    rows = list(tfds.as_numpy(tfds.load("fashion_mnist", split="test", data_dir=tfds_dir).take(300)))
    real = np.stack([np.pad(r["image"], ((2, 2), (2, 2), (0, 0))) for r in rows]).astype(np.float32) / 127.5 - 1
    expected = numpy_fid(features(fake).numpy().astype(np.float64), features(real).numpy().astype(np.float64))
    assert result["fid"] == pytest.approx(expected, rel=1e-3, abs=1e-4)

    files = sorted(cache.iterdir())
    again = evaluate_json(capsys, *common, "--metrics", "fid")
    assert sorted(cache.iterdir()) == files and again["fid"] == pytest.approx(result["fid"], rel=1e-9)
    raw = evaluate_json(capsys, *common, "--metrics", "fid", "--raw")
    assert raw["generator"] == "generator" and raw["fid"] != pytest.approx(result["fid"], rel=1e-6)


def test_training_logged_fid_and_kept_the_best_generator(tiny_run, feature_model, tfds_dir, capsys):  # noqa: F811
    logdir, cache = tiny_run
    scalars, _ = read_events(logdir / "train")
    assert sorted(scalars["fid"]) == [3, TINY_RUN_STEPS] and sorted(scalars["is"]) == [3, TINY_RUN_STEPS]
    best = json.loads((logdir / "best_fid" / "best_fid.json").read_text())
    assert best["fid"] == pytest.approx(min(scalars["fid"].values()), rel=1e-6)
    assert scalars["fid"][best["step"]] == pytest.approx(best["fid"], rel=1e-6)
    # The kept generator is the one that scored it: re-measuring it with the same samples and
    # the same (cached) reference statistics gives the logged value.
    result = evaluate_json(capsys, "--logdir", str(logdir), "--checkpoint", "best", "--num-samples", "40",
                           "--metrics", "fid", "--data-dir", tfds_dir, "--stats-cache", str(cache), "--batch-size", "50")
    assert result["step"] == best["step"] and result["fid"] == pytest.approx(best["fid"], rel=1e-4)


@pytest.mark.parametrize("argv,message", [
    (["--metrics", "fid,kid"], "--metrics must be"),
    (["--num-samples", "0"], "--num-samples must be positive"),
    (["--checkpoint", "/nonexistent/ckpt-3"], "not found"),
])
def test_user_errors_exit_with_one_line(tiny_run, capsys, argv, message):  # noqa: F811
    logdir, _ = tiny_run
    assert run_main(main, ["--logdir", str(logdir), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_missing_run_is_an_error(tmp_path, capsys):
    assert run_main(main, ["--logdir", str(tmp_path)]) == 2
    assert "is not a training run" in capsys.readouterr().err
