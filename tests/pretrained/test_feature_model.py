"""The Fashion-MNIST classifier shipped with the package: the file its metadata describes, accurate on
test images, named by ``pretrained:NAME``, and the one the shipped generator's kept numbers cite."""

import hashlib
import json

import keras
import numpy as np
import pytest

from sagan_tf import pretrained
from sagan_tf.errors import SaganError
from sagan_tf.evaluation.metrics.feature_model import KerasFeatureExtractor
from sagan_tf.runs.run_dir import read_evaluations
from sagan_tf.serving.model_card import CARD_FILE
from tests.evaluation.independent import fashion_mnist_test_images, fashion_mnist_test_labels

NAME = "fashion_mnist32"


def metadata() -> dict:
    return json.loads((pretrained.FEATURE_MODELS / f"{NAME}.json").read_text())


def test_the_file_is_the_one_its_metadata_describes():
    path = pretrained.feature_model(NAME)
    info = metadata()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == info["sha256"]
    assert path.stat().st_size < 3 * 2**20 and info["test_accuracy"] >= 0.90
    model = keras.saving.load_model(path, compile=False)
    assert model.count_params() == info["parameters"] and model.get_layer("features").output.shape[-1] == info["feature_dim"]


def test_it_classifies_the_test_images_as_its_accuracy_says(tfds_dir):
    """The repository's 500 test images, prepared as the config prepares them; the classifier's
    argmax against the labels (0.9257 on all 10,000: 500 images leave a standard error of 0.012)."""
    model = keras.saving.load_model(pretrained.feature_model(NAME), compile=False)
    images, labels = fashion_mnist_test_images(tfds_dir, 500), fashion_mnist_test_labels(tfds_dir, 500)
    accuracy = float((model.predict(images, verbose=0).argmax(1) == labels).mean())
    assert accuracy >= metadata()["test_accuracy"] - 4 * 0.012, accuracy


def test_pretrained_name_resolves_and_an_unknown_one_is_one_line():
    extractor = KerasFeatureExtractor(f"pretrained:{NAME}")
    assert extractor.sha256 == metadata()["sha256"] and extractor.dim == 128
    with pytest.raises(SaganError, match=f"no shipped feature model 'cifar10'; the package ships: {NAME}"):
        KerasFeatureExtractor("pretrained:cifar10")


def test_the_shipped_generators_numbers_cite_it_with_their_protocol():
    results = read_evaluations(pretrained.directory(NAME))
    assert results
    for result in results:
        network = result["protocol"]["feature_network"]
        assert network["sha256"] == metadata()["sha256"] and network["dim"] == 128
        assert result["protocol"]["generator"]["pretrained"] == NAME
    card = (pretrained.directory(NAME) / CARD_FILE).read_text()
    assert metadata()["sha256"][:16] in card and "pretrained:fashion_mnist32" in card
    assert np.isfinite(results[0]["fid"]) and "### Weakest classes" in card
