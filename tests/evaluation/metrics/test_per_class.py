"""Per-class diversity (``metrics.per_class``) on features where the answer is known: a class drawn
from the real images, a class drawn afresh from the real distribution, and a class that repeats one
image, checked against numpy on each class's rows."""

import numpy as np
import pytest

from sagan_tf.evaluation.metrics.fid import ClassStatsAccumulator
from sagan_tf.evaluation.metrics.per_class import class_report, class_scalars, format_table
from sagan_tf.evaluation.metrics.statistics import FeatureSetOptions, Statistics, compute_metrics
from tests.evaluation.independent import numpy_fid

DIM, PER_CLASS = 6, 240
NAMES = ["T-shirt/top", "Trouser", "Pullover", "Bag"]


def labelled_sets(seed=0):
    """Real: 4 Gaussian classes of 240 rows. Generated: class 0 = the real class-0 rows themselves,
    classes 1 and 2 = fresh draws of their real distribution, class 3 = one real image repeated
    (with noise 1e-3 so its covariance is not exactly singular)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 6, (4, DIM))
    real = np.concatenate([means[c] + rng.normal(size=(PER_CLASS, DIM)) for c in range(4)])
    real_labels = np.repeat(np.arange(4), PER_CLASS)
    fake = np.concatenate([
        real[real_labels == 0],
        means[1] + rng.normal(size=(PER_CLASS, DIM)),
        means[2] + rng.normal(size=(PER_CLASS, DIM)),
        real[real_labels == 3][0] + 1e-3 * rng.normal(size=(PER_CLASS, DIM)),
    ])
    return real, real_labels, fake, real_labels.copy()


def brute_force(real, fake, k_pr, k_dc):
    """The four metrics from every pair's sum((a - b) ** 2) (copies and a repeated image put points
    exactly on, or within 1e-3 of, balls' radii: only the exact pairwise sums decide them alike)."""
    def sq(a, b):
        return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)

    def radii(x, k):
        d = sq(x, x)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]

    d = sq(real, fake)
    r_pr, f_pr, r_dc = radii(real, k_pr), radii(fake, k_pr), radii(real, k_dc)
    return {"precision": (d <= r_pr[:, None]).any(0).mean(), "recall": (d <= f_pr[None, :]).any(1).mean(),
            "density": (d <= r_dc[:, None]).sum() / (k_dc * len(fake)), "coverage": (d <= r_dc[:, None]).any(1).mean()}


def statistics(features, labels):
    acc = ClassStatsAccumulator(per_class=True)
    for start in range(0, len(features), 100):  # batch by batch, as the evaluation accumulates them
        acc.add(features[start:start + 100], labels[start:start + 100])
    return Statistics(*acc.result(), features=features.astype(np.float32), labels=labels)


@pytest.fixture(scope="module")
def result():
    real, real_labels, fake, fake_labels = labelled_sets()
    metrics = ["fid", "intra_fid", "precision", "recall", "density", "coverage"]
    out = compute_metrics(metrics, statistics(fake, fake_labels), statistics(real, real_labels),
                          options=FeatureSetOptions(k_pr=3, k_dc=5), class_names=NAMES)
    return out, (real, real_labels, fake, fake_labels)


def test_each_class_is_measured_against_its_own_real_images(result):
    out, (real, real_labels, fake, fake_labels) = result
    assert sorted(out["per_class"]) == ["0", "1", "2", "3"]
    for c in range(4):
        row = out["per_class"][str(c)]
        r, f = real[real_labels == c].astype(np.float32), fake[fake_labels == c].astype(np.float32)
        assert row["name"] == NAMES[c]
        assert {k: row[k] for k in ("precision", "recall", "density", "coverage")} == pytest.approx(
            brute_force(r.astype(np.float64), f.astype(np.float64), 3, 5), abs=1e-12)
        assert row["intra_fid"] == pytest.approx(numpy_fid(f.astype(np.float64), r.astype(np.float64)), rel=1e-4, abs=1e-6)
    # The whole-set intra-FID is their mean, as before.
    assert out["intra_fid"] == pytest.approx(np.mean([out["per_class"][str(c)]["intra_fid"] for c in range(4)]))


def test_copies_score_one_fresh_draws_score_high_and_a_repeated_image_scores_near_zero(result):
    out, _ = result
    rows = out["per_class"]
    assert rows["0"]["recall"] == 1.0 and rows["0"]["coverage"] == 1.0 and rows["0"]["precision"] == 1.0
    for c in ("1", "2"):
        assert rows[c]["recall"] > 0.8 and rows[c]["coverage"] > 0.8, rows[c]
    assert rows["3"]["recall"] < 0.05 and rows["3"]["coverage"] < 0.05, rows["3"]
    assert rows["3"]["intra_fid"] > 5 * max(rows[c]["intra_fid"] for c in ("0", "1", "2"))


def test_the_weakest_class_is_named_by_the_median_criterion(result):
    out, _ = result
    recalls = [out["per_class"][str(c)]["recall"] for c in range(4)]
    median = float(np.median(recalls))
    assert out["per_class"]["3"]["recall_vs_median"] == pytest.approx(recalls[3] / median)
    weakest = out["weakest_classes"]
    assert weakest[0]["class"] == 3 and weakest[0]["name"] == "Bag" and weakest[0]["below_criterion"]
    assert [w["below_criterion"] for w in weakest[1:]] == [False, False]
    assert out["per_class_criterion"] == {"recall_vs_median_at_least": 0.5, "intra_fid_vs_median_at_most": 2.0,
                                          "classes_below": [3]}
    table = format_table(out)
    assert table[0].split() == ["class", "intra_fid", "precision", "recall", "density", "coverage", "below", "criterion"]
    assert table[4].startswith("Bag") and table[4].endswith("yes") and not table[1].endswith("yes")


def test_the_criterion_by_hand():
    """recall 0.2 against a median of 0.5 fails (0.4 < 0.5); intra-FID 2.5x the median fails; a
    class at exactly half the median recall or twice the median intra-FID passes."""
    per_class = {0: {"recall": 0.5, "intra_fid": 1.0}, 1: {"recall": 0.6, "intra_fid": 1.0},
                 2: {"recall": 0.2, "intra_fid": 1.0}, 3: {"recall": 0.5, "intra_fid": 2.5},
                 4: {"recall": 0.25, "intra_fid": 2.0}}
    report = class_report(per_class)
    assert report["per_class_criterion"]["classes_below"] == [2, 3]
    assert [w["class"] for w in report["weakest_classes"]] == [2, 3, 4]
    assert report["weakest_classes"][0]["score"] == pytest.approx(0.4)
    assert report["weakest_classes"][1]["score"] == pytest.approx(0.4)  # 1 / 2.5
    assert report["per_class"]["1"]["name"] is None


def test_tensorboard_scalars_of_the_report(result):
    out, _ = result
    scalars = class_scalars(out)
    assert scalars["per_class/recall/3_Bag"] == out["per_class"]["3"]["recall"]
    assert scalars["per_class/intra_fid/0_T-shirt_top"] == out["per_class"]["0"]["intra_fid"]
    assert scalars["weakest_class/recall_vs_median"] == out["per_class"]["3"]["recall_vs_median"]
    assert scalars["weakest_class/intra_fid_vs_median"] == max(r["intra_fid_vs_median"] for r in out["per_class"].values())
    assert scalars["weakest_class/classes_below"] == 1.0
    assert len([k for k in scalars if k.startswith("per_class/")]) == 4 * 5


def test_unconditional_sets_have_no_per_class_report():
    real, _, fake, _ = labelled_sets()
    acc_r, acc_f = ClassStatsAccumulator(per_class=False), ClassStatsAccumulator(per_class=False)
    acc_r.add(real, np.zeros(len(real))), acc_f.add(fake, np.zeros(len(fake)))
    out = compute_metrics(["fid", "recall"], Statistics(*acc_f.result(), features=fake), Statistics(*acc_r.result(), features=real))
    assert set(out) == {"fid", "recall"}
