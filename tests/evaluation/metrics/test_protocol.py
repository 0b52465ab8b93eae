"""The protocol object of an evaluation: which generator, which reference, which k values."""

import dataclasses

from sagan_tf.config import DataConfig
from sagan_tf.evaluation.metrics.protocol import (
    dataset_reference,
    evaluation_protocol,
    file_reference,
    generator_description,
)
from sagan_tf.evaluation.metrics.statistics import FeatureSetOptions

NETWORK = {"name": "inception_v3", "weights": "imagenet", "sha256": None, "dim": 2048, "resize": "bilinear"}


def test_generator_checkpoint_is_relative_to_the_run_when_inside_it(tmp_path):
    run = tmp_path / "run"
    inside = generator_description("generator_ema", run, str(run / "checkpoints" / "ckpt-6"), 6)
    assert inside == {"weights": "ema", "name": "generator_ema", "checkpoint": "checkpoints/ckpt-6", "step": 6,
                      "pretrained": None, "truncation": None, "export": None}
    outside = generator_description("generator", run, str(tmp_path / "elsewhere" / "ckpt-2"), 2, "fashion_mnist32")
    assert outside["weights"] == "raw" and outside["checkpoint"] == str(tmp_path / "elsewhere" / "ckpt-2")
    assert outside["pretrained"] == "fashion_mnist32"
    export = {"path": str(tmp_path / "models" / "3"), "version": 3}
    exported = generator_description("generator_ema", run, str(run / "checkpoints" / "ckpt-6"), 6, truncation=0.7,
                                     export=export)
    assert exported == {**inside, "truncation": 0.7, "export": export}
    assert generator_description("generator", run, None, None)["checkpoint"] is None


def test_references_name_the_data_and_its_preparation_or_the_file(tmp_path):
    data = dataclasses.replace(DataConfig(), channels=1, resize="pad", center_crop=False)
    assert dataset_reference(data, "test") == {
        "source": "dataset", "dataset": "fashion_mnist", "split": "test",
        "preparation": {"resolution": 32, "channels": 1, "resize": "pad", "center_crop": False},
    }
    folder = dataclasses.replace(data, source="folder", path=str(tmp_path / "flowers"))
    assert dataset_reference(folder, "train")["dataset"] == f"folder:{tmp_path / 'flowers'}"
    assert file_reference(tmp_path / "ref.npz", "ab" * 32) == {
        "source": "file", "file": str(tmp_path / "ref.npz"), "sha256": "ab" * 32}


def test_k_values_and_kid_subsets_are_recorded_only_for_the_metrics_that_use_them():
    options = FeatureSetOptions(k_pr=2, k_dc=7, kid_subset_size=500, kid_subsets=10)
    common = dict(feature_network=NETWORK, generator={"weights": "ema"}, num_generated=100, reference=None,
                  num_reference=None, seed=4, options=options)
    fid_only = evaluation_protocol(metrics=["fid"], **common)
    assert fid_only["feature_network"] == {k: v for k, v in NETWORK.items() if k != "resize"}
    assert fid_only["resize"] == "bilinear" and fid_only["seed"] == 4 and fid_only["num_generated"] == 100
    assert [fid_only[k] for k in ("k_precision_recall", "k_density_coverage", "kid_subset_size", "kid_subsets")] == [
        None, None, None, None]
    recall = evaluation_protocol(metrics=["recall", "coverage", "kid"], **common)
    assert [recall[k] for k in ("k_precision_recall", "k_density_coverage", "kid_subset_size", "kid_subsets")] == [
        2, 7, 500, 10]
    assert evaluation_protocol(metrics=["density"], **common)["k_precision_recall"] is None
