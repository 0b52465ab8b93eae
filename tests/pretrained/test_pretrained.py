"""The generator that ships with the package: its files match their checksums, it loads and draws
offline in a fresh process with no dataset, its images are the stored reference ones, and it exports."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import pretrained
from sagan_tf.errors import SaganError
from sagan_tf.runs.run_dir import load_generator, read_evaluations, save_evaluation
from sagan_tf.serving.export import export
from sagan_tf.serving.generators import load_generator as load_trained_generator
from sagan_tf.serving.model_card import CARD_FILE
from sagan_tf.serving.pretrained import LOCAL_KEYS, REFERENCE_IMAGES, build, reference_inputs
from tests.helpers.cli import TINY_RUN_STEPS, offline_env

NAME = "fashion_mnist32"


def to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.round((images.astype(np.float64) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def test_the_package_ships_it_small_with_weights_matching_their_checksums():
    assert NAME in pretrained.names()
    directory = pretrained.directory(NAME)
    reference = json.loads((directory / pretrained.REFERENCE_FILE).read_text())
    assert reference["weights"]
    for name, digest in reference["weights"].items():
        assert hashlib.sha256((directory / "checkpoints" / name).read_bytes()).hexdigest() == digest
    assert sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) < 4 * 2**20
    card = (directory / CARD_FILE).read_text()
    assert f"- Steps: {reference['step']}, trained in" in card and "| FID |" in card


# A fresh process with no dataset and no network: the generator by name, z as sagan-sample draws it.
DRAW = """
import sys
import numpy as np
import tensorflow as tf
import sagan_tf

generator = sagan_tf.load_generator("fashion_mnist32")
print(",".join(generator.class_names))
z = tf.random.stateless_normal([generator.num_classes, generator.z_dim], seed=[0, 0]).numpy()
np.save(sys.argv[1], generator.generate(z=z, labels=range(generator.num_classes)))
"""


def test_in_a_fresh_offline_process_it_draws_the_reference_images(tmp_path):
    out = tmp_path / "images.npy"
    done = subprocess.run([sys.executable, "-c", DRAW, str(out)], cwd=tmp_path, env=offline_env(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("T-shirt/top,Trouser,")
    expected = to_uint8(np.load(pretrained.directory(NAME) / REFERENCE_IMAGES)).astype(int)
    drawn = np.load(out).astype(int)
    assert drawn.shape == expected.shape == (10, 32, 32, 1)
    # another CPU may round a float32 sum differently: one level of 255 at most, on few pixels
    assert np.abs(drawn - expected).max() <= 1 and np.mean(drawn != expected) < 0.01


def test_an_unknown_name_is_one_line_naming_the_shipped_ones(tmp_path):
    with pytest.raises(SaganError) as raised:
        load_trained_generator("pretrained:nope")
    assert str(raised.value) == f"no pretrained generator 'nope'; the package ships: {NAME}"
    with pytest.raises(SaganError) as raised:
        load_trained_generator(tmp_path / "nope")
    assert str(raised.value) == (f"{tmp_path / 'nope'} is not a directory: give a training run, an export or a shipped "
                                 f"generator (pretrained:{NAME})")


def test_build_ships_the_ema_generator_alone_with_its_reference_and_card(tiny_run, tmp_path):
    logdir, _ = tiny_run
    save_evaluation(logdir, {"logdir": str(logdir), "checkpoint": "/somewhere/ckpt", "step": TINY_RUN_STEPS,
                             "generator": "generator_ema", "features": "f-0123", "num_samples": 8, "seed": 11,
                             "fid": 1.5})
    target = build(str(logdir), "tiny", root=tmp_path)
    with pytest.raises(SaganError, match="--replace"):
        build(str(logdir), "tiny", root=tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name != "tiny"]  # no staging directory left behind

    names = {key.split("/", 1)[0] for key, _ in tf.train.list_variables(str(target / "checkpoints"))}
    assert names == {"generator_ema", "save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"}  # no D, optimizer or raw G
    shipped, cfg = load_generator(target)
    original, _ = load_generator(logdir)
    z, labels = reference_inputs(cfg.data.num_classes, cfg.model.z_dim)
    images = shipped((z, labels), training=False).numpy()
    np.testing.assert_array_equal(images, original((z, labels), training=False).numpy())
    np.testing.assert_array_equal(images, np.load(target / REFERENCE_IMAGES))
    kept = [e for e in read_evaluations(target) if e.get("seed") == 11]
    assert len(kept) == 1 and not set(LOCAL_KEYS) & set(kept[0]) and kept[0]["fid"] == 1.5
    assert "| FID | 1.5 | `f-0123` |" in (target / CARD_FILE).read_text()


def test_refresh_replaces_the_kept_results_and_writes_the_card_again(tmp_path):
    """The maintainers' path for measuring a shipped generator again: the results replace the kept
    ones (without local paths), the card shows them and keeps its notes; a result of another
    generator or step, or one without a protocol, is refused."""
    import shutil

    from sagan_tf.serving.model_card import NOTES_HEADING
    from sagan_tf.serving.pretrained import refresh

    shutil.copytree(pretrained.directory(NAME), tmp_path / NAME)
    kept = read_evaluations(tmp_path / NAME)
    result = dict(kept[0], seed=7, fid=12.5, logdir="/somewhere")
    for bad, message in ((dict(result, step=1), "not of the shipped generator_ema at step"),
                         ({k: v for k, v in result.items() if k != "protocol"}, "has no protocol object")):
        with pytest.raises(SaganError, match=message):
            refresh(NAME, [bad], root=tmp_path)
    refresh(NAME, [result], root=tmp_path)
    assert [e["fid"] for e in read_evaluations(tmp_path / NAME)] == [12.5]
    assert "logdir" not in read_evaluations(tmp_path / NAME)[0]
    card = (tmp_path / NAME / CARD_FILE).read_text()
    shipped = (pretrained.directory(NAME) / CARD_FILE).read_text()
    assert "| FID | 12.5 |" in card and card.split(NOTES_HEADING)[1] == shipped.split(NOTES_HEADING)[1]


def test_its_export_serves_the_reference_images_and_carries_its_card(tmp_path):
    from sagan_tf.serving.model_card import NOTES_HEADING

    out = tmp_path / "models" / "fmnist"
    version = export(f"pretrained:{NAME}", out, formats=("saved_model",))
    assert list(out.iterdir()) == [version]
    card = (version / CARD_FILE).read_text()
    shipped = (pretrained.directory(NAME) / CARD_FILE).read_text()
    fid = read_evaluations(pretrained.directory(NAME))[0]["fid"]
    assert f"| FID | {fid:.4g} |" in card and NOTES_HEADING in card
    assert card.split(NOTES_HEADING)[1] == shipped.split(NOTES_HEADING)[1]  # the notes are carried over
    reference = json.loads((pretrained.directory(NAME) / pretrained.REFERENCE_FILE).read_text())
    z, labels = reference_inputs(10, 128)
    loaded = tf.saved_model.load(str(version))
    images = loaded.signatures["serving_default"](z=z, labels=labels)["images_float"].numpy()
    expected = np.load(pretrained.directory(NAME) / REFERENCE_IMAGES)
    assert reference["images"]["labels"] == labels.numpy().tolist()
    np.testing.assert_allclose(images, expected, atol=1e-4)  # the served graph is the shipped generator
