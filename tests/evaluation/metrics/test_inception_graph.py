"""The 2015 Inception graph path on a small GraphDef with the real graph's tensor names, shapes, entry
point and old batch-norm op: features and unbiased logits against numpy, the TF and clean resizes,
the .tgz, the SHA-256 checks, graphs that are not it, and the cached download."""

import hashlib
import tarfile

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.metrics.graph_rewrite import OLD_BATCH_NORM, removed_ops, rewrite_batch_norm
from sagan_tf.evaluation.metrics.inception_download import cached_graph
from sagan_tf.evaluation.metrics.inception_graph import PUBLISHED_SHA256, InceptionGraphExtractor
from sagan_tf.evaluation.metrics.resize import CLEAN_DESCRIPTION
from tests.evaluation.metrics import tiny_inception_graph as tiny
from tests.evaluation.metrics.test_resize import pil_clean


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    return tiny.write_graph(tmp_path_factory.mktemp("graph") / "classify_image_graph_def.pb")


@pytest.fixture(scope="module")
def extractor(graph_file):
    return InceptionGraphExtractor(str(graph_file))


def test_the_published_digest_is_a_sha256():
    assert len(PUBLISHED_SHA256) == 64 and int(PUBLISHED_SHA256, 16) >= 0


def test_the_old_batch_norm_op_is_rewritten_into_current_ops():
    graph_def = tiny.build_graph_def(tiny.weights())
    assert removed_ops(graph_def) == [OLD_BATCH_NORM]  # TF 2 no longer runs it in a function
    rewritten, count = rewrite_batch_norm(graph_def)
    assert count == 1 and removed_ops(rewritten) == []
    assert OLD_BATCH_NORM not in {node.op for node in rewritten.node}
    assert "conv/batchnorm" in {node.name for node in rewritten.node}  # consumers read the same tensor name


@pytest.mark.parametrize("shape", [(3, 32, 32, 1), (2, 64, 64, 3), (2, 28, 20, 3)])
def test_features_and_unbiased_logits_equal_numpy_with_the_graphs_own_resize(extractor, shape):
    images = np.random.default_rng(sum(shape)).uniform(-1, 1, shape).astype(np.float32)
    features, logits = extractor(images)
    pixels = (images.astype(np.float64) + 1.0) * 127.5  # as TTUR feeds ExpandDims:0: [0, 255], any size
    if shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    expected_features, expected_logits = tiny.numpy_network(pixels, tiny.weights())
    assert features.shape == (shape[0], 2048) and logits.shape == (shape[0], 1008)
    np.testing.assert_allclose(features, expected_features, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, expected_logits, rtol=1e-5, atol=1e-5)
    with_bias = expected_logits + tiny.weights()["bias"]  # the graph's softmax/logits: not what IS uses
    assert np.abs(logits - with_bias).max() > 0.5


def test_the_clean_resize_feeds_299_pixels_that_the_graph_does_not_resize_again(graph_file):
    clean = InceptionGraphExtractor(str(graph_file), resize="clean")
    images = np.random.default_rng(5).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    features, logits = clean(images)
    expected_features, expected_logits = tiny.numpy_network(pil_clean(images), tiny.weights())
    np.testing.assert_allclose(features, expected_features, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, expected_logits, rtol=1e-5, atol=1e-5)
    assert clean.identity.endswith("-clean") and clean.describe()["resize"] == CLEAN_DESCRIPTION


def test_a_tgz_gives_the_same_network_and_the_protocol_names_the_file(extractor, graph_file, tmp_path):
    archive = tiny.write_archive(tmp_path / "inception-2015-12-05.tgz", graph_file)
    from_archive = InceptionGraphExtractor(str(archive))
    digest = hashlib.sha256(graph_file.read_bytes()).hexdigest()
    images = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)
    np.testing.assert_array_equal(from_archive(images)[0], extractor(images)[0])
    assert from_archive.sha256 == extractor.sha256 == digest
    assert extractor.describe((32, 32)) == {
        "name": "inception-2015-12-05", "weights": "file", "sha256": digest, "dim": 2048,
        "resize": "bilinear to 299x299 inside the graph (ResizeBilinear, align_corners=False, no antialiasing) "
                  "of pixels (x + 1) * 127.5 fed to ExpandDims:0, as TTUR",
    }
    assert extractor.identity == f"inception-2015-12-05-{digest[:16]}"


def test_the_sha256_is_checked_and_another_file_than_the_published_one_is_named(graph_file, capsys):
    digest = hashlib.sha256(graph_file.read_bytes()).hexdigest()
    InceptionGraphExtractor(str(graph_file), sha256=digest.upper())
    assert f"is not the published classify_image_graph_def.pb (its SHA-256 is {digest}" in capsys.readouterr().err
    with pytest.raises(SaganError, match=f"the SHA-256 of .* is {digest}, not the expected {'0' * 64}"):
        InceptionGraphExtractor(str(graph_file), sha256="0" * 64)


def test_files_that_are_not_the_graph_are_one_error_line(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        tf.constant(1.0, name="ExpandDims")
        tf.constant(2.0, name="pool_3")
    other = tmp_path / "other.pb"
    other.write_bytes(graph.as_graph_def().SerializeToString())
    noise = tmp_path / "noise.pb"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes())
    empty_archive = tmp_path / "empty.tgz"
    with tarfile.open(empty_archive, "w:gz") as archive:
        archive.add(noise, arcname="README")
    for path, message in [
        (other, "has no softmax/logits/MatMul:0: not the 2015 Inception graph"),
        (noise, "is not a TensorFlow GraphDef"),
        (empty_archive, "is an archive without classify_image_graph_def.pb"),
        (tmp_path / "missing.pb", "Inception graph not found"),
    ]:
        with pytest.raises(SaganError, match=message):
            InceptionGraphExtractor(str(path))


def test_the_download_is_cached_only_with_the_expected_digest(graph_file, tmp_path):
    archive = tiny.write_archive(tmp_path / "inception-2015-12-05.tgz", graph_file)
    digest = hashlib.sha256(graph_file.read_bytes()).hexdigest()
    url = archive.as_uri()
    with pytest.raises(SaganError, match=f"has SHA-256 {digest}, not the published {PUBLISHED_SHA256}"):
        cached_graph(tmp_path / "cache", urls=[url])
    assert not (tmp_path / "cache" / "inception-2015-12-05" / "classify_image_graph_def.pb").exists()

    missing = (tmp_path / "nowhere.tgz").as_uri()
    path = cached_graph(tmp_path / "cache", urls=[missing, url], sha256=digest)  # the second URL answers
    assert path == tmp_path / "cache" / "inception-2015-12-05" / "classify_image_graph_def.pb"
    assert path.read_bytes() == graph_file.read_bytes()
    assert not [p for p in path.parent.iterdir() if p != path]  # no download left behind
    assert cached_graph(tmp_path / "cache", urls=[missing], sha256=digest) == path  # no second download
    with pytest.raises(SaganError, match="cannot download the 2015 Inception graph .*--inception-graph PATH"):
        cached_graph(tmp_path / "elsewhere", urls=[missing], sha256=digest)
