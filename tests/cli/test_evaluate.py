"""``sagan-evaluate`` on a tiny trained run, checked against an independent numpy FID, KID,
precision/recall and density/coverage; its protocol object and reference statistics files; the
metrics logged during training."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.special
import tensorflow as tf

from sagan_tf import pretrained
from sagan_tf.cli.evaluate import METRIC_NAMES, main
from sagan_tf.evaluation.metrics.statistics import METRICS
from sagan_tf.runs.run_dir import load_generator, read_evaluations
from sagan_tf.serving.export import export_run
from sagan_tf.serving.model_card import CARD_FILE
from tests.evaluation.independent import (
    assert_manifold_metrics,
    classifier_features,
    fashion_mnist_test_images,
    fashion_mnist_test_labels,
    generated_images,
    keras_generate,
    numpy_fid,
    numpy_is,
    numpy_mmd2,
)
from tests.evaluation.metrics import tiny_inception_graph as tiny_graph
from tests.evaluation.metrics.test_resize import pil_clean
from tests.helpers.cli import TINY_RUN_STEPS, read_events, run_main
from tests.helpers.exports import make_run


def evaluate_json(capsys, *argv):
    """The JSON result on stdout; what went to stderr is kept in ``evaluate_json.err``."""
    assert run_main(main, list(argv)) == 0
    captured = capsys.readouterr()
    evaluate_json.err = captured.err
    return json.loads(captured.out)


def common_args(source, feature_model, tfds_dir, cache):
    """100 generated images against the first 300 test images, batches of 64, the domain classifier;
    ``source``: ``["--logdir", RUN]`` or ``["--pretrained", NAME]``."""
    return [*source, "--num-samples", "100", "--feature-model", feature_model, "--data-dir", tfds_dir,
            "--split", "test", "--num-real", "300", "--stats-cache", str(cache), "--batch-size", "64"]


@pytest.fixture(scope="module")
def features_of(feature_model):
    """Images -> float64 features of the Keras model's ``features`` layer (not sagan_tf.evaluation)."""
    both = classifier_features(feature_model)
    return lambda images: both(images)[0]


def independent_generated_features(logdir, features_of, checkpoint=None, n=100, batch=64) -> np.ndarray:
    """The ``n`` images of ``common_args`` (batches of ``batch``) as documented: the EMA generator, z
    from the stateless RNG seeded (0, first index of the batch), balanced labels."""
    g, _ = load_generator(logdir, checkpoint=checkpoint)
    return features_of(generated_images(keras_generate(g), g.z_dim, n, batch))


@pytest.fixture(scope="module")
def real_features(features_of, tfds_dir):
    """The first 300 test images, padded 28 -> 32 and scaled to [-1, 1], through the feature model."""
    return features_of(fashion_mnist_test_images(tfds_dir, 300))


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
    (best,) = json.loads((logdir / "best" / "best.json").read_text())["checkpoints"]  # log.keep_best 1, by fid
    best["fid"] = best["value"]
    assert best["metric"] == "fid" and best["fid"] == pytest.approx(min(scalars["fid"].values()), rel=1e-6)
    assert scalars["fid"][best["step"]] == pytest.approx(best["fid"], rel=1e-6)
    # The kept generator is the one that scored it: re-measuring it with the same samples and
    # the same (cached) reference statistics gives the logged value.
    result = evaluate_json(capsys, "--logdir", str(logdir), "--checkpoint", "best", "--num-samples", "100",
                           "--metrics", "fid", "--data-dir", tfds_dir, "--stats-cache", str(cache), "--batch-size", "50")
    assert result["step"] == best["step"] and result["fid"] == pytest.approx(best["fid"], rel=1e-4)


def test_training_logged_kid_and_the_manifold_metrics_in_the_domain_feature_space(tiny_run, features_of, tfds_dir):
    """log.fid_metrics (default: all): at each FID step, KID and precision/recall/density/coverage of
    the 100 samples against the first 100 real images (eval.split test), in the run's classifier's
    feature space, as computed here from the checkpoint of that step; and the same class by class
    (log.per_class), each class's 10 samples against its real images among those 100."""
    logdir, _ = tiny_run
    scalars, _ = read_events(logdir / "train")
    for name in ("kid", "precision", "recall", "density", "coverage"):
        assert sorted(scalars[name]) == [3, TINY_RUN_STEPS], name
    real = features_of(fashion_mnist_test_images(tfds_dir, 100))
    real_labels, fake_labels = fashion_mnist_test_labels(tfds_dir, 100), np.arange(100) % 10
    assert np.bincount(real_labels, minlength=10).min() >= 6  # k = 5 radii within every class
    manifold = ("precision", "recall", "density", "coverage")
    names = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
    for step in (3, TINY_RUN_STEPS):
        fake = independent_generated_features(logdir, features_of, str(logdir / "checkpoints" / f"ckpt-{step}"), 100, 50)
        assert scalars["kid"][step] == pytest.approx(numpy_mmd2(real, fake), rel=1e-3)
        assert_manifold_metrics({name: scalars[name][step] for name in manifold}, real, fake, 3, 5)
        for c, name in enumerate(names):
            logged = {m: scalars[f"per_class/{m}/{c}_{name}"][step] for m in manifold}
            assert_manifold_metrics(logged, real[real_labels == c], fake[fake_labels == c], 3, 5)
        recalls = [scalars[f"per_class/recall/{c}_{name}"][step] for c, name in enumerate(names)]
        if np.median(recalls) > 0:
            assert scalars["weakest_class/recall_vs_median"][step] == pytest.approx(min(recalls) / np.median(recalls), rel=1e-5)
        assert sorted(scalars["weakest_class/intra_fid_vs_median"]) == [3, TINY_RUN_STEPS]


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
    assert_manifold_metrics(result, real, fake, 2, 4)
    assert 0.5 < result["precision"] < 1 and 0.5 < result["recall"] < 1 and 0.2 < result["coverage"] < 1
    assert result["density"] > 0.5
    # Class by class: each class's 10 samples (labels i % 10) against its own real images.
    real_labels, fake_labels = fashion_mnist_test_labels(tfds_dir, 300), np.arange(100) % 10
    assert result["per_class"]["8"]["name"] == "Bag" and len(result["per_class"]) == 10
    for c in range(10):
        assert_manifold_metrics(result["per_class"][str(c)], real[real_labels == c], fake[fake_labels == c], 2, 4)
    assert result["weakest_classes"] and result["per_class_criterion"]["recall_vs_median_at_least"] == 0.5
    table = evaluate_json.err.splitlines()  # the per-class table on stderr, a line per class
    header = next(i for i, line in enumerate(table) if line.endswith("below criterion"))
    assert [line.split()[0] for line in table[header + 1:header + 11]][8] == "Bag"

    sha256 = hashlib.sha256(Path(feature_model).read_bytes()).hexdigest()
    assert result["protocol"] == {
        "feature_network": {"name": Path(feature_model).name, "weights": "file", "sha256": sha256, "dim": 128},
        "resize": "none",
        "generator": {"weights": "ema", "name": "generator_ema", "checkpoint": "checkpoints/ckpt-5000",
                      "step": 5000, "pretrained": "fashion_mnist32", "truncation": None, "export": None},
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


def test_nearest_pictures_the_nearest_training_images_and_measures_the_memorisation_rate(
        tiny_run, feature_model, tfds_dir, tmp_path, capsys):  # noqa: F811
    """--nearest 4 on 20 generated images: their nearest among the 1,000 training images and the
    rate, checked in pixels against brute force; 20 held-out test images give the baseline."""
    logdir, cache = tiny_run
    picture = tmp_path / "nearest.png"
    result = evaluate_json(capsys, "--logdir", str(logdir), "--metrics", "fid", "--num-samples", "20",
                           "--feature-model", feature_model, "--data-dir", tfds_dir, "--stats-cache", str(cache),
                           "--batch-size", "50", "--nearest", "4", "--nearest-samples", "20",
                           "--nearest-picture", str(picture))
    memo = result["memorisation"]
    assert (memo["training_images"], memo["generated"], memo["heldout"], memo["heldout_split"]) == (1000, 20, 20, "test")
    g, _ = load_generator(logdir)
    fake = generated_images(keras_generate(g), g.z_dim, 20, 50).reshape(20, -1).astype(np.float64)
    train = fashion_mnist_test_images(tfds_dir, 1000, "train").reshape(1000, -1).astype(np.float64)
    held = fashion_mnist_test_images(tfds_dir, 20).reshape(20, -1).astype(np.float64)

    def rate(queries):
        d = np.sqrt(((queries[:, None] - train[None]) ** 2).sum(-1))
        nearest, dist = d.argmin(1), d.min(1)
        own = np.sqrt(((train[nearest][:, None] - train[None]) ** 2).sum(-1))
        own[np.arange(len(nearest)), nearest] = np.inf
        return (dist < own.min(1)).mean(), np.median(dist)

    (r, median), (held_r, _) = rate(fake), rate(held)
    assert memo["pixels"]["memorisation_rate"] == pytest.approx(r) and memo["pixels"]["heldout_rate"] == pytest.approx(held_r)
    assert memo["pixels"]["median_distance"] == pytest.approx(median, rel=1e-4)
    assert 0 <= memo["features"]["memorisation_rate"] <= 1
    from PIL import Image

    with Image.open(picture) as image:  # 4 rows: the image, 3 nearest in features, 3 in pixels
        assert image.size == (64 + 2 * (8 + 3 * 64), 18 + 4 * (64 + 14))
    assert run_main(main, ["--pretrained", "fashion_mnist32", "--nearest", "2"]) == 2
    assert "--nearest with --pretrained needs --nearest-picture" in capsys.readouterr().err


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
    (["--version", "1"], "--version goes with --model EXPORT_DIR"),
    (["--truncation", "0"], "--truncation must be >= 1e-06 (inf: no truncation), got 0"),
    (["--truncation", "1e-46"], "--truncation must be >= 1e-06 (inf: no truncation), got 1e-46"),  # the explorer's bound
    (["--inception-graph", "/nonexistent/classify_image_graph_def.pb"], "Inception graph not found"),
    (["--inception-graph", "/a.pb", "--inception-weights", "/b.h5"], "--inception-graph and --inception-weights"),
    (["--inception-graph-sha256", "ab" * 32], "--inception-graph-sha256 checks the file of --inception-graph"),
])
def test_user_errors_exit_with_one_line(tiny_run, capsys, argv, message):  # noqa: F811
    logdir, _ = tiny_run
    assert run_main(main, ["--logdir", str(logdir), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_missing_run_is_an_error(tmp_path, capsys):
    assert run_main(main, ["--logdir", str(tmp_path)]) == 2
    assert "is not a training run" in capsys.readouterr().err


# An exported SavedModel (sagan-export), evaluated through its own signatures.

def truncated_z(seeds, z_dim: int, t: float) -> np.ndarray:
    """BigGAN's truncated normal by inverse CDF from each seed's uniform draw (the documented
    construction of generate_truncated), with scipy's normal CDF and its inverse."""
    u = np.stack([tf.random.stateless_uniform([z_dim], seed=[int(s), 0], dtype=tf.float64).numpy() for s in seeds])
    low, high = scipy.special.ndtr(-t), scipy.special.ndtr(t)
    return scipy.special.ndtri(low + (u + 2.0**-53) * (high - low)).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, feature_model, tfds_dir):
    """(run, version directory, the flags of its evaluations): a tiny run measured with KID and
    precision before it was exported, so that its card shows them."""
    root = tmp_path_factory.mktemp("evaluate-export")
    run = make_run(root / "run")
    flags = ["--num-samples", "100", "--feature-model", feature_model, "--data-dir", tfds_dir, "--split", "test",
             "--num-real", "300", "--stats-cache", str(root / "stats"), "--batch-size", "64"]
    assert run_main(main, ["--logdir", str(run.logdir), *flags, "--metrics", "fid,kid,precision"]) == 0
    target, _ = export_run(run.logdir, root / "models", formats=("saved_model",))
    return run, target, flags


def test_an_export_is_measured_as_its_run_and_keeps_the_result_in_its_card(exported, features_of, real_features,
                                                                            capsys):
    run, target, flags = exported
    capsys.readouterr()
    measured_run = read_evaluations(run.logdir)[0]
    card = (target / CARD_FILE).read_text()
    kid_row = next(line for line in card.splitlines() if line.startswith("| KID |"))
    assert f"| {measured_run['kid']:.4g} |" in kid_row and kid_row.endswith("| [1] |")
    assert "[1] network `fmnist.keras` (file weights" in card and "KID over 100 subsets of 1000" in card

    result = evaluate_json(capsys, "--model", str(target.parent), *flags, "--metrics", "fid,kid,precision")
    assert result["fid"] == pytest.approx(measured_run["fid"], rel=1e-4)
    assert result["kid"] == pytest.approx(measured_run["kid"], rel=1e-4)
    fake = features_of(generated_images(keras_generate(run.generator), 128, 100, 64))  # the in-memory G
    assert result["fid"] == pytest.approx(numpy_fid(fake, real_features), rel=1e-3)
    assert result["kid"] == pytest.approx(numpy_mmd2(real_features, fake), rel=1e-3)
    assert result["logdir"] is None and result["model"] == str(target) and result["step"] == 1
    assert result["protocol"]["generator"] == {
        "weights": "raw", "name": "generator", "checkpoint": "checkpoints/ckpt-1", "step": 1, "pretrained": None,
        "truncation": None, "export": {"path": str(target.resolve()), "version": 1},
    }
    assert {k: v for k, v in result["protocol"].items() if k != "generator"} == {
        k: v for k, v in measured_run["protocol"].items() if k != "generator"}
    assert read_evaluations(target) == [result]

    card = (target / CARD_FILE).read_text()
    section = card[card.index("### Measured on this export"):card.index("## Intended use and limits")]
    assert f"| KID | {result['kid']:.4g} | `{result['features']}` | 100 | 300 of `test` | generator | 0 | [1] |" in section
    assert f"through the export `{target.resolve()}`, z untruncated" in section
    assert card.count("| KID |") == 2  # the run's row from the export and the export's own


def test_truncation_draws_z_from_per_image_seeds_for_an_export_and_for_its_run(exported, features_of,
                                                                              real_features, capsys):
    run, target, flags = exported
    capsys.readouterr()
    args = [*flags, "--metrics", "kid", "--truncation", "0.5", "--seed", "3"]
    result = evaluate_json(capsys, "--model", str(target), *args)
    labels = (np.arange(100) % 10).astype(np.int32)
    z = truncated_z(3 * 2**32 + np.arange(100), 128, 0.5)
    assert np.abs(z).max() <= 0.5
    fake = features_of(run.generator((tf.constant(z), tf.constant(labels)), training=False).numpy())
    assert result["kid"] == pytest.approx(numpy_mmd2(real_features, fake), rel=1e-3)
    assert result["protocol"]["generator"]["truncation"] == 0.5 and result["seed"] == 3
    from_run = evaluate_json(capsys, "--logdir", str(run.logdir), *args)
    assert from_run["kid"] == pytest.approx(result["kid"], rel=1e-4)
    assert from_run["protocol"]["generator"]["truncation"] == 0.5 and from_run["protocol"]["generator"]["export"] is None
    card = (target / CARD_FILE).read_text()
    assert "z truncated to [-0.5, 0.5]" in card and "z untruncated" in card  # both results of the export


def test_an_export_whose_run_is_gone_needs_a_config_that_fits_it(exported, tmp_path, capsys):
    run, target, flags = exported
    copy = tmp_path / "models" / "7"
    shutil.copytree(target, copy)
    manifest = json.loads((copy / "export.json").read_text())
    manifest["source"]["logdir"] = str(tmp_path / "gone")
    (copy / "export.json").write_text(json.dumps(manifest))
    for argv, message in [
        ([], "the run the export came from"),
        (["--config", "cifar10_32"], "does not fit the export (32 px, 1 channel(s), 10 classes)"),
        (["--raw"], "--raw is for runs"),
        (["--truncation", "-1"], "--truncation must be >= 1e-06"),
    ]:
        assert run_main(main, ["--model", str(copy), *flags, "--metrics", "fid", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert run_main(main, ["--model", str(tmp_path / "nothing"), "--metrics", "fid"]) == 2
    assert "is not a directory" in capsys.readouterr().err
    result = evaluate_json(capsys, "--model", str(copy.parent), *flags, "--metrics", "fid", "--config", "fashion_mnist32",
                           "--num-samples", "20")
    assert result["num_samples"] == 20 and result["protocol"]["generator"]["export"]["path"] == str(copy.resolve())


# The 2015 Inception graph (a small stand-in with its tensor names) and clean-fid's resize.

@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    return tiny_graph.write_graph(tmp_path_factory.mktemp("graph") / "classify_image_graph_def.pb")


@pytest.mark.parametrize("resize", ["tf", "clean"])
def test_the_inception_graph_measures_what_numpy_computes(graph_file, tfds_dir, tmp_path, capsys, resize):
    result = evaluate_json(capsys, "--pretrained", "fashion_mnist32", "--inception-graph", str(graph_file),
                           "--resize", resize, "--metrics", "is,kid", "--num-samples", "20", "--num-real", "30",
                           "--data-dir", tfds_dir, "--split", "test", "--batch-size", "20",
                           "--stats-cache", str(tmp_path / "stats"))
    g, _ = load_generator(pretrained.directory("fashion_mnist32"))
    fake_images = generated_images(keras_generate(g), g.z_dim, 20, 20)
    real_images = fashion_mnist_test_images(tfds_dir, 30)
    if resize == "clean":
        pixels = pil_clean
    else:
        def pixels(images):
            return np.repeat((images.astype(np.float64) + 1.0) * 127.5, 3, axis=-1)
    weights = tiny_graph.weights()
    fake, logits = tiny_graph.numpy_network(pixels(fake_images), weights)
    real, _ = tiny_graph.numpy_network(pixels(real_images), weights)
    assert result["kid"] == pytest.approx(numpy_mmd2(real, fake), rel=1e-3)
    assert result["is"] == pytest.approx(numpy_is(logits, 10), rel=1e-4)
    digest = hashlib.sha256(graph_file.read_bytes()).hexdigest()
    network = result["protocol"]["feature_network"]
    assert network == {"name": "inception-2015-12-05", "weights": "file", "sha256": digest, "dim": 2048}
    assert result["features"] == f"inception-2015-12-05-{digest[:16]}" + ("-clean" if resize == "clean" else "")
    assert result["protocol"]["resize"].startswith("clean-fid: " if resize == "clean" else "bilinear to 299x299 inside")


def test_a_wrong_graph_or_checksum_is_one_error_line(graph_file, feature_model, tmp_path, capsys):
    not_inception = tmp_path / "other.pb"
    not_inception.write_bytes(b"\n\x05\n\x01a\x12\x00")  # a GraphDef of one node "a"
    for argv, message in [
        (["--inception-graph", str(graph_file), "--inception-graph-sha256", "0" * 64], "not the expected " + "0" * 64),
        (["--inception-graph", str(not_inception)], "not the 2015 Inception graph"),
        (["--feature-model", feature_model, "--resize", "clean"], "--resize clean is for Inception's 299x299"),
    ]:
        assert run_main(main, ["--pretrained", "fashion_mnist32", "--metrics", "is", "--num-samples", "10", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and message in err[-1], err
        assert not [line for line in err[:-1] if line.startswith("error")]


def test_an_export_of_an_ema_generator_is_measured_as_the_ema_generator(tmp_path, feature_model, tfds_dir, capsys):
    """The shipped generator holds only G's moving average: its export is measured as that generator."""
    from sagan_tf import pretrained

    flags = ["--num-samples", "100", "--feature-model", feature_model, "--data-dir", tfds_dir, "--split", "test",
             "--num-real", "300", "--stats-cache", str(tmp_path / "stats"), "--batch-size", "64", "--metrics", "fid,kid"]
    target, _ = export_run(str(pretrained.directory("fashion_mnist32")), tmp_path / "models", formats=("saved_model",))
    capsys.readouterr()
    from_export = evaluate_json(capsys, "--model", str(target), *flags)
    from_shipped = evaluate_json(capsys, "--pretrained", "fashion_mnist32", *flags)
    assert from_export["protocol"]["generator"]["weights"] == from_shipped["protocol"]["generator"]["weights"] == "ema"
    assert from_export["protocol"]["generator"]["name"] == "generator_ema"
    assert from_export["fid"] == pytest.approx(from_shipped["fid"], rel=1e-4)
    assert from_export["kid"] == pytest.approx(from_shipped["kid"], rel=1e-3, abs=1e-6)
