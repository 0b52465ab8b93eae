"""The export's ``explore`` signature and class names: what ``sagan-explore`` reads beside the served contract.

``explore(z, class_weights)`` must give the images of ``generate_truncated`` for one-hot weights
(bit for bit: the page's interpolation ends are the grid's images), every attention layer's beta as
the Keras generator computes it, mixtures as Keras computes them, and clear errors for weights that
are not a mixture. The three served signatures are pinned by ``tests/test_export.py``.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.data.class_names import class_names
from tests.helpers import REPO
from tests.helpers.exports import parse_signature_defs, saved_model_cli_show

FASHION_MNIST = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def test_saved_model_cli_shows_explore_with_every_attention_layer(explore_export):
    signatures = parse_signature_defs(saved_model_cli_show(explore_export.version_dir))
    assert signatures["explore"] == {
        "inputs": {"z": ("DT_FLOAT", "(-1, 128)"), "class_weights": ("DT_FLOAT", "(-1, 10)")},
        "outputs": {
            "images": ("DT_UINT8", "(-1, 32, 32, 1)"),
            "images_float": ("DT_FLOAT", "(-1, 32, 32, 1)"),
            "attention_8": ("DT_FLOAT", "(-1, 64, 16)"),  # 8x8 queries, 4x4 pooled keys
            "attention_16": ("DT_FLOAT", "(-1, 256, 64)"),
        },
        "method": "tensorflow/serving/predict",
    }
    assert signatures["mix"] == {
        "inputs": {"z": ("DT_FLOAT", "(-1, 128)"), "class_weights": ("DT_FLOAT", "(-1, 10)")},
        "outputs": {"images": ("DT_UINT8", "(-1, 32, 32, 1)"), "images_float": ("DT_FLOAT", "(-1, 32, 32, 1)")},
        "method": "tensorflow/serving/predict",
    }
    manifest = json.loads((explore_export.version_dir / "export.json").read_text())
    assert manifest["signatures"] == ["serving_default", "generate", "generate_truncated", "explore", "mix"]
    assert manifest["class_names"] == FASHION_MNIST


def test_one_hot_weights_give_generate_truncated_images_bit_for_bit_and_keras_maps(explore_export, explore_reference):
    labels, seeds = [0, 3, 9, 3], [4, 4, 11, 2**40]
    images, z = explore_reference.generate(seeds, labels, 0.8)
    out = explore_reference.explore(z, explore_reference.one_hot(labels))
    np.testing.assert_array_equal(out["images"], images)
    keras_images, maps = explore_export.run.generator((tf.constant(z), tf.constant(labels)), training=False, return_attention=True)
    assert np.abs(out["images_float"] - keras_images.numpy()).max() <= 1e-5
    assert sorted(maps) == ["attention_16", "attention_8"]
    for name, beta in maps.items():
        assert np.abs(out[name] - beta.numpy()).max() <= 1e-6
        np.testing.assert_allclose(out[name].sum(-1), 1.0, rtol=1e-5)


def test_a_mixture_of_two_classes_is_the_keras_mixture(explore_export, explore_reference):
    _, z = explore_reference.generate([7, 7, 7], [0, 0, 0])
    weights = np.array([[0.75, 0, 0, 0.25] + [0] * 6, [0.5, 0, 0, 0.5] + [0] * 6, [0, 0, 0, 1.0] + [0] * 6], np.float32)
    out = explore_reference.explore(z, weights)
    expected = explore_export.run.generator((tf.constant(z), tf.constant(weights)), training=False).numpy()
    assert np.abs(out["images_float"] - expected).max() <= 1e-5
    np.testing.assert_array_equal(out["images"][2], explore_reference.generate([7], [3])[0][0])


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.full((2, 10), 0.05), "every row of class_weights must sum to 1"),
        (np.eye(10)[[1, 2]] * 2 - np.eye(10)[[0, 0]], "class_weights must be >= 0"),
        (np.eye(10)[[1]], "class_weights must have shape"),  # one row for two z
    ],
)
def test_weights_that_are_not_a_mixture_fail_with_invalid_argument(explore_reference, weights, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        explore_reference.explore(np.zeros((2, 128), np.float32), weights)


def test_class_names_come_from_tfds_or_the_folder_and_are_none_when_unknown(tmp_path):
    cfg = config_lib.load(REPO / "configs" / "fashion_mnist32.yaml")
    assert class_names(cfg.data) == FASHION_MNIST
    for name in ("tulip", "rose", "daisy"):
        (tmp_path / "flowers" / name).mkdir(parents=True)
    folder = config_lib.load(REPO / "configs" / "fashion_mnist32.yaml",
                             ["data.source=folder", f"data.path={tmp_path / 'flowers'}", "data.num_classes=3"])
    assert class_names(folder.data) == ["daisy", "rose", "tulip"]  # labels follow the sorted subfolders
    missing = config_lib.load(REPO / "configs" / "fashion_mnist32.yaml",
                              ["data.source=folder", f"data.path={tmp_path / 'nowhere'}", "data.num_classes=3"])
    assert class_names(missing.data) is None
    unknown = config_lib.load(REPO / "configs" / "fashion_mnist32.yaml", ["data.name=no_such_dataset"])
    assert class_names(unknown.data) is None
    unconditional = config_lib.load(REPO / "configs" / "fashion_mnist32.yaml", ["data.num_classes=0"])
    assert class_names(unconditional.data) is None


def test_explore_runs_in_the_session_path_tf_serving_uses(explore_reference, explore_export):
    _, z = explore_reference.generate([5, 6], [1, 2])
    weights = np.array([[0, 0.5, 0.5] + [0] * 7, [0, 0, 1.0] + [0] * 7], np.float32)
    expected = explore_reference.explore(z, weights)
    graph = tf.Graph()
    with graph.as_default():
        sess = tf.compat.v1.Session(graph=graph)
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(explore_export.version_dir))
    sig = meta.signature_def["explore"]
    names = ["images", "attention_8", "attention_16"]
    out = sess.run([sig.outputs[n].name for n in names], {sig.inputs["z"].name: z, sig.inputs["class_weights"].name: weights})
    for name, value in zip(names, out, strict=True):
        np.testing.assert_array_equal(value, expected[name])


def test_mix_gives_the_images_of_explore_bit_for_bit_and_refuses_what_explore_refuses(explore_reference):
    _, z = explore_reference.generate([3, 9, 9, 2**33], [0, 0, 0, 0], 1.2)
    weights = np.zeros((4, 10), np.float32)
    weights[0, 4] = 1.0
    weights[1, [2, 8]] = 0.5
    weights[2, [0, 1, 2, 3]] = 0.25
    weights[3, [5, 6]] = [0.9, 0.1]
    mix = explore_reference.loaded.signatures["mix"]
    out = mix(z=tf.constant(z), class_weights=tf.constant(weights))
    assert sorted(out) == ["images", "images_float"]
    expected = explore_reference.explore(z, weights)
    np.testing.assert_array_equal(out["images"].numpy(), expected["images"])
    np.testing.assert_array_equal(out["images_float"].numpy(), expected["images_float"])
    np.testing.assert_array_equal(out["images"].numpy()[0], explore_reference.generate([3], [4], 1.2)[0][0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="every row of class_weights must sum to 1"):
        mix(z=tf.constant(z[:1]), class_weights=tf.constant(weights[:1] * 2))


def test_a_generator_without_mix_takes_the_images_of_explore(explore_generator, explore_reference):
    from sagan_tf.serving.generators import TrainedGenerator

    signatures = explore_reference.loaded.signatures
    old = TrainedGenerator(explore_generator.info, {name: signatures[name] for name in ("generate_truncated", "explore")})
    _, z = explore_reference.generate([1, 2], [0, 0])
    weights = explore_reference.one_hot([6, 1]) * 0.5 + explore_reference.one_hot([2, 2]) * 0.5
    np.testing.assert_array_equal(old.mix(z, weights), explore_generator.mix(z, weights))
    np.testing.assert_array_equal(old.mix(z, weights), explore_reference.explore(z, weights)["images"])
