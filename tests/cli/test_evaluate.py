"""``sagan-evaluate`` on a tiny trained run, checked against an independent numpy FID, KID,
precision/recall and density/coverage; its protocol object and reference statistics files."""

import hashlib
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from scipy.spatial.distance import cdist

from sagan_tf import pretrained
from sagan_tf.cli.evaluate import METRIC_NAMES, main
from sagan_tf.evaluation.metrics.statistics import METRICS
from sagan_tf.training.run_dir import load_generator
from tests.helpers.cli import TINY_RUN_STEPS, read_events, run_main


def numpy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID from two feature sets; tr sqrt(S1 S2) as the sum of sqrt of the (real, >= 0) eigenvalues."""
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(eig)))


def numpy_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3: kernel means with the diagonals masked out."""
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    off = lambda k: k[~np.eye(len(k), dtype=bool)].mean()  # noqa: E731
    return float(off(kxx) + off(kyy) - 2 * kxy.mean())


def cdist_metrics(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int, scale: float) -> dict:
    """Precision, recall, density, coverage from scipy's Euclidean distances, every radius times ``scale``."""
    def radii(x, k):
        d = cdist(x, x)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1] * scale

    d = cdist(real, fake)
    r_pr, f_pr, r_dc = radii(real, k_pr), radii(fake, k_pr), radii(real, k_dc)
    return {
        "precision": (d <= r_pr[:, None]).any(axis=0).mean(),
        "recall": (d <= f_pr[None, :]).any(axis=1).mean(),
        "density": (d <= r_dc[:, None]).sum() / (k_dc * len(fake)),
        "coverage": (d.min(axis=1) <= r_dc).mean(),
    }


def evaluate_json(capsys, *argv):
    assert run_main(main, list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def common_args(source, feature_model, tfds_dir, cache):
    """100 generated images against the first 300 test images, batches of 64, the domain classifier;
    ``source``: ``["--logdir", RUN]`` or ``["--pretrained", NAME]``."""
    return [*source, "--num-samples", "100", "--feature-model", feature_model, "--data-dir", tfds_dir,
            "--split", "test", "--num-real", "300", "--stats-cache", str(cache), "--batch-size", "64"]


@pytest.fixture(scope="module")
def features_of(feature_model):
    """Images -> float64 features of the Keras model's ``features`` layer (not sagan_tf.evaluation)."""
    model = keras.saving.load_model(feature_model)
    features = keras.Model(model.inputs, model.get_layer("features").output)
    return lambda images: features(images).numpy().astype(np.float64)


def independent_generated_features(logdir, features_of) -> np.ndarray:
    """The 100 images of ``common_args`` as documented: the EMA generator, z from the stateless RNG
    seeded (0, first index of the batch of 64), balanced labels."""
    g, _ = load_generator(logdir)
    labels = np.arange(100) % 10
    images = np.concatenate([
        g((tf.random.stateless_normal([64 if s == 0 else 36, g.z_dim], seed=[0, s]), tf.constant(labels[s:s + 64])),
          training=False).numpy() for s in (0, 64)])
    return features_of(images)


@pytest.fixture(scope="module")
def real_features(features_of, tfds_dir):
    """The first 300 test images, padded 28 -> 32 and scaled to [-1, 1], through the feature model."""
    rows = list(tfds.as_numpy(tfds.load("fashion_mnist", split="test", data_dir=tfds_dir).take(300)))
    real = np.stack([np.pad(r["image"], ((2, 2), (2, 2), (0, 0))) for r in rows]).astype(np.float32) / 127.5 - 1
    return features_of(real)


def test_evaluate_matches_an_independent_fid_and_reuses_the_cache(tiny_run, feature_model, tfds_dir,  # noqa: F811
                                                                  features_of, real_features, capsys):
    logdir, _ = tiny_run
    cache = logdir.parent / "cli_stats"
    common = common_args(["--logdir", str(logdir)], feature_model, tfds_dir, cache)
    result = evaluate_json(capsys, *common, "--metrics", "is,fid,intra_fid")
    assert result["generator"] == "generator_ema" and result["step"] == TINY_RUN_STEPS
    assert result["num_real"] == 300 and result["num_samples"] == 100
    assert sorted(result["intra_fid_per_class"]) == sorted(str(c) for c in range(10))
    assert result["intra_fid"] == pytest.approx(np.mean(list(result["intra_fid_per_class"].values())))
    assert 1.0 <= result["is"] <= 10.0

    fake = independent_generated_features(logdir, features_of)
    assert result["fid"] == pytest.approx(numpy_fid(fake, real_features), rel=1e-3, abs=1e-4)

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


def test_feature_set_metrics_match_independent_computations(feature_model, tfds_dir, features_of, real_features,
                                                             tmp_path, capsys):
    """On the shipped generator, whose samples are close enough to the real images for non-trivial
    values (the tiny run's 6-step G is far from every real ball: all four would be 0)."""
    real = real_features
    fake = independent_generated_features(pretrained.directory("fashion_mnist32"), features_of)
    common = common_args(["--pretrained", "fashion_mnist32"], feature_model, tfds_dir, tmp_path / "stats")
    result = evaluate_json(capsys, *common, "--metrics", "fid,kid,precision,recall,density,coverage",
                           "--k-pr", "2", "--k-dc", "4")
    # Both sets hold no more than --kid-subset-size (1000) samples: one subset, the whole sets.
    assert result["kid"] == pytest.approx(numpy_mmd2(real, fake), rel=1e-3, abs=1e-12) and result["kid_std"] == 0.0
    # Features agree to float32 rounding only: bound each count between radii 1e-4 smaller and larger.
    lower, upper = cdist_metrics(real, fake, 2, 4, 1 - 1e-4), cdist_metrics(real, fake, 2, 4, 1 + 1e-4)
    for name in ("precision", "recall", "density", "coverage"):
        assert lower[name] <= result[name] <= upper[name], (name, lower[name], result[name], upper[name])
        assert upper[name] - lower[name] <= 0.02, name
    assert 0.5 < result["precision"] < 1 and 0.5 < result["recall"] < 1 and 0.2 < result["coverage"] < 1
    assert result["density"] > 0.5

    sha256 = hashlib.sha256(Path(feature_model).read_bytes()).hexdigest()
    assert result["protocol"] == {
        "feature_network": {"name": Path(feature_model).name, "weights": "file", "sha256": sha256, "dim": 128},
        "resize": "none",
        "generator": {"weights": "ema", "name": "generator_ema", "checkpoint": "checkpoints/ckpt-5000",
                      "step": 5000, "pretrained": "fashion_mnist32", "truncation": None},
        "num_generated": 100,
        "labels": "balanced",
        "seed": 0,
        "num_reference": 300,
        "reference": {"source": "dataset", "dataset": "fashion_mnist", "split": "test",
                      "preparation": {"resolution": 32, "channels": 1, "resize": "pad", "center_crop": False}},
        "k_precision_recall": 2,
        "k_density_coverage": 4,
        "kid_subset_size": 1000,
        "kid_subsets": 100,
    }

    # Subsets of 50 of each set, drawn as documented: numpy's default_rng(--seed), real then fake.
    subsets = evaluate_json(capsys, *common, "--metrics", "kid", "--kid-subset-size", "50", "--kid-subsets", "4",
                            "--seed", "0")
    rng = np.random.default_rng(0)
    values = []
    for _ in range(4):
        r, f = rng.choice(300, 50, replace=False), rng.choice(100, 50, replace=False)
        values.append(numpy_mmd2(real[r], fake[f]))
    assert subsets["kid"] == pytest.approx(np.mean(values), rel=1e-3, abs=1e-12)
    assert subsets["kid_std"] == pytest.approx(np.std(values), rel=1e-2, abs=1e-12) and subsets["kid_std"] > 0
    assert subsets["protocol"]["kid_subset_size"] == 50 and subsets["protocol"]["k_precision_recall"] is None


def test_reference_statistics_files_are_written_read_and_checked(tiny_run, feature_model, tfds_dir,  # noqa: F811
                                                                 real_features, tmp_path, capsys):
    logdir, _ = tiny_run
    real = real_features
    common = common_args(["--logdir", str(logdir)], feature_model, tfds_dir, logdir.parent / "cli_stats")
    path = tmp_path / "fmnist_test300.npz"
    measured = evaluate_json(capsys, *common, "--metrics", "fid", "--save-reference-stats", str(path))
    with np.load(path) as f:
        np.testing.assert_allclose(f["mu"], real.mean(0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(f["sigma"], np.cov(real, rowvar=False), rtol=1e-3, atol=1e-5)
        assert int(f["count"]) == 300

    again = evaluate_json(capsys, "--logdir", str(logdir), "--num-samples", "100", "--feature-model", feature_model,
                          "--batch-size", "64", "--metrics", "fid", "--reference-stats", str(path))
    assert again["fid"] == pytest.approx(measured["fid"], rel=1e-9)
    assert again["real_split"] == path.name and again["num_real"] == 300
    assert again["protocol"]["reference"] == {"source": "file", "file": str(path.resolve()),
                                              "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}

    blocked = tmp_path / "a_file"
    blocked.write_text("")
    assert run_main(main, [*common, "--metrics", "fid", "--save-reference-stats", str(blocked / "ref.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write --save-reference-stats"), err

    wrong = tmp_path / "other_features.npz"
    np.savez(wrong, mu=np.zeros(64), sigma=np.eye(64))
    for argv, message in [
        (["--metrics", "fid", "--reference-stats", str(wrong)], "dimension 64, the feature model gives 128"),
        (["--metrics", "fid,kid", "--reference-stats", str(path)], "kid need the real images"),
        (["--metrics", "fid", "--reference-stats", str(path), "--save-reference-stats", str(wrong)], "not allowed"),
    ]:
        assert run_main(main, ["--logdir", str(logdir), "--feature-model", feature_model, *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_the_help_names_every_metric():
    assert METRIC_NAMES == METRICS


@pytest.mark.parametrize("argv,message", [
    (["--metrics", "fid,lpips"], "--metrics must be"),
    (["--metrics", "recall", "--num-samples", "3"], "recall needs --num-samples > --k-pr (3)"),
    (["--k-dc", "0"], "--k-dc must be positive"),
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
