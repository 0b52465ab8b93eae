"""The generator that ships with the package: its files match their checksums, it samples and is
served offline in a fresh process with no dataset, and its images are the stored reference ones."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from sagan_tf import pretrained
from sagan_tf.cli.sample import main as sample_main
from sagan_tf.errors import SaganError
from sagan_tf.images import make_grid
from sagan_tf.runs.run_dir import load_generator, read_evaluations, save_evaluation
from sagan_tf.serving.model_card import CARD_FILE
from sagan_tf.serving.pretrained import LOCAL_KEYS, REFERENCE_IMAGES, build, reference_inputs
from tests.helpers.cli import TINY_RUN_STEPS, run_main
from tests.helpers.explore import command_serving, decode_png, get, get_json

NAME = "fashion_mnist32"


def offline_env(tmp_path) -> dict:
    """No dataset anywhere and no way out: TFDS and Keras look in empty directories, every HTTP(S)
    request goes to a closed port."""
    closed = "http://127.0.0.1:9"
    return dict(os.environ, TFDS_DATA_DIR=str(tmp_path / "no_data"), KERAS_HOME=str(tmp_path / "keras"),
                HTTP_PROXY=closed, HTTPS_PROXY=closed, http_proxy=closed, https_proxy=closed, NO_PROXY="",
                TF_CPP_MIN_LOG_LEVEL="3")


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


def test_sagan_sample_in_a_fresh_offline_process_draws_the_reference_images(tmp_path):
    out = tmp_path / "grid.png"
    done = subprocess.run([sys.executable, "-m", "sagan_tf.cli.sample", "--pretrained", NAME, "--n", "1", "--out", str(out)],
                          cwd=tmp_path, env=offline_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(T-shirt/top, Trouser," in done.stderr
    reference = np.load(pretrained.directory(NAME) / REFERENCE_IMAGES)
    expected = make_grid(to_uint8(reference), 1).astype(int)
    drawn = np.asarray(Image.open(out)).astype(int).reshape(expected.shape)
    # another CPU may round a float32 sum differently: one level of 255 at most, on few pixels
    assert np.abs(drawn - expected).max() <= 1 and np.mean(drawn != expected) < 0.01


def test_sagan_explore_serves_it_offline(tmp_path):
    args = [sys.executable, "-m", "sagan_tf.cli.explore", "--pretrained", NAME, "--port", "0"]
    with command_serving(args, tmp_path, offline_env(tmp_path)) as (url, _):
        info = get_json(url + "api/info")
        status, body, _ = get(url + "api/image.png?seed=0&label=9")
    assert info["classes"][9] == {"label": 9, "name": "Ankle boot"} and str(pretrained.directory(NAME)) in info["source"]
    assert status == 200 and decode_png(body).shape[:2] == (32, 32)


def test_an_unknown_name_is_one_line_naming_the_shipped_ones(tmp_path, capsys):
    assert run_main(sample_main, ["--pretrained", "nope", "--out", str(tmp_path / "g.png")]) == 2
    assert f"no pretrained generator 'nope'; the package ships: {NAME}" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()


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


def test_the_build_command_appends_notes_to_the_card_and_replaces_only_when_asked(tiny_run, tmp_path):
    from sagan_tf.cli.build_pretrained import main as build_main

    logdir, _ = tiny_run
    into = ["--into", str(tmp_path)]
    notes = tmp_path / "notes.md"
    notes.write_text("Features: a 1-epoch classifier, test accuracy 0.767.\n")
    assert run_main(build_main, ["--logdir", str(logdir), "--name", "tiny", "--notes", str(notes), *into]) == 0
    card = (tmp_path / "tiny" / CARD_FILE).read_text()
    assert card.endswith("\n\n## How these numbers were made\n\nFeatures: a 1-epoch classifier, test accuracy 0.767.\n")
    assert run_main(build_main, ["--logdir", str(logdir), "--name", "tiny", *into]) == 2  # exists: --replace needed
    assert run_main(build_main, ["--logdir", str(logdir), "--name", "tiny", "--replace", *into]) == 0
    assert "How these numbers were made" not in (tmp_path / "tiny" / CARD_FILE).read_text()
    assert run_main(build_main, ["--logdir", str(logdir), "--name", "x", "--notes", str(tmp_path / "none.md"), *into]) == 2


def test_sagan_export_of_it_serves_the_reference_images_and_carries_its_card(tmp_path):
    from sagan_tf.cli.export import main as export_main
    from sagan_tf.serving.model_card import NOTES_HEADING

    out = tmp_path / "models" / "fmnist"
    assert run_main(export_main, ["--pretrained", NAME, "--out", str(out), "--formats", "saved_model"]) == 0
    (version,) = out.iterdir()
    card = (version / CARD_FILE).read_text()
    shipped = (pretrained.directory(NAME) / CARD_FILE).read_text()
    assert "| FID | 0.2512 |" in card and NOTES_HEADING in card
    assert card.split(NOTES_HEADING)[1] == shipped.split(NOTES_HEADING)[1]  # the notes are carried over
    reference = json.loads((pretrained.directory(NAME) / pretrained.REFERENCE_FILE).read_text())
    z, labels = reference_inputs(10, 128)
    loaded = tf.saved_model.load(str(version))
    images = loaded.signatures["serving_default"](z=z, labels=labels)["images_float"].numpy()
    expected = np.load(pretrained.directory(NAME) / REFERENCE_IMAGES)
    assert reference["images"]["labels"] == labels.numpy().tolist()
    np.testing.assert_allclose(images, expected, atol=1e-4)  # the served graph is the shipped generator
