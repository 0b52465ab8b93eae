"""Folders as users keep them (``data.folder_walk``, torchvision's ``ImageFolder`` walk): a class's
images at any depth, hidden files and folders ignored, links followed without looping, a class
with no image named in one line; and the survey cache (``data.survey_cache``): a second start
decodes nothing, a changed file is decoded again, and a worker that is not the chief waits for the
chief's survey instead of decoding the folder."""

import json
import os
import threading

import numpy as np
import pytest
from PIL import Image

from sagan_tf import config as config_lib
from sagan_tf.data import folder_probe, image_folder, survey_cache
from sagan_tf.data.folder_walk import walk
from sagan_tf.errors import DataError
from sagan_tf.trainer import data_check
from tests.helpers.data import folder_config


def png(path, seed, size=8):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)


def photo_folder(root):
    """cats/ flat (3), dogs/ two levels deep (2 + 1) with a link back to the top (a loop), zebras/
    one level deeper (2019/, 2), hidden entries everywhere, and birds/: a link to a folder elsewhere (2)."""
    for i in range(3):
        png(root / "cats" / f"c{i}.png", i)
    png(root / "dogs" / "d0.png", 10)
    png(root / "dogs" / "park" / "d1.png", 11)
    png(root / "dogs" / "park" / "2020" / "d2.png", 12)
    png(root / "zebras" / "2019" / "z0.png", 20)
    png(root / "zebras" / "2019" / "z1.png", 21)
    os.symlink("..", root / "dogs" / "loop")  # dogs/loop/dogs/loop/... : walked once
    os.symlink(root / "cats", root / "dogs" / "park" / "cats_again")  # a folder reached twice: walked once
    elsewhere = root.parent / f"{root.name}_elsewhere"
    png(elsewhere / "b0.png", 30)
    png(elsewhere / "b1.png", 31)
    os.symlink(elsewhere, root / "birds")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "cats" / "._c0.png").write_bytes(b"\0\5\26\7")  # macOS resource fork
    png(root / "cats" / ".ipynb_checkpoints" / "c0-checkpoint.png", 40)
    png(root / "__MACOSX" / "cats" / "c0.png", 41)
    png(root / ".trash" / "old.png", 42)


def test_classes_are_top_level_folders_and_images_sit_at_any_depth(tmp_path):
    root = tmp_path / "photos"
    photo_folder(root)
    found = walk(root)
    assert [p.name for p in found.class_dirs] == ["birds", "cats", "dogs", "zebras"]
    assert [[e.rel for e in files] for files in found.files] == [
        ["birds/b0.png", "birds/b1.png"],
        ["cats/c0.png", "cats/c1.png", "cats/c2.png"],
        # cats_again is cats (same device and inode): walked under cats only; the loop to the top is never entered
        ["dogs/d0.png", "dogs/park/2020/d2.png", "dogs/park/d1.png"],
        ["zebras/2019/z0.png", "zebras/2019/z1.png"],
    ]
    listing = image_folder.list_folder(folder_config(root, num_classes=config_lib.AUTO_CLASSES))
    assert listing.class_names == ["birds", "cats", "dogs", "zebras"]
    assert listing.counts() == [2, 3, 3, 2]
    assert listing.skipped() == [] and listing.root_images == 0


def test_a_class_without_images_is_one_line_naming_it(tmp_path):
    png(tmp_path / "cats" / "c0.png", 0)
    png(tmp_path / "cats" / "c1.png", 1)
    (tmp_path / "zebras" / "2019").mkdir(parents=True)
    (tmp_path / "zebras" / "2019" / "notes.txt").write_text("to do")
    png(tmp_path / "zebras" / ".ipynb_checkpoints" / "z-checkpoint.png", 2)  # hidden: not an image of zebras
    cfg = folder_config(tmp_path, num_classes=config_lib.AUTO_CLASSES)
    with pytest.raises(DataError) as info:
        image_folder.list_images(cfg)
    assert str(info.value) == (
        f"1 class folder(s) without an image that decodes, at any depth: {tmp_path / 'zebras'}; "
        "add images to them or remove them (G would be asked to draw classes it never saw)")
    full = config_lib.load("folder32", [f"data.path={tmp_path}", "train.batch_size=1"])
    image_folder.resolve_classes(full.data)
    with pytest.raises(data_check.DataFitError) as fit:
        data_check.check_data(full)
    assert str(fit.value) == str(info.value)
    assert fit.value.report[:4] == [f"images: 2 in {tmp_path}", "classes: 2", "     0  cats: 2 images",
                                    "     1  zebras: 0 images"]


def test_a_second_start_decodes_nothing_and_a_changed_file_is_decoded_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SAGAN_TF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(folder_probe, "_MEMO", {})
    monkeypatch.setattr(folder_probe, "_SAID", set())
    decoded = []
    real = folder_probe._decode_pass
    monkeypatch.setattr(folder_probe, "_decode_pass", lambda paths: decoded.append(sorted(paths)) or real(paths))
    root = tmp_path / "photos"
    for i in range(4):
        png(root / "a" / f"{i}.png", i, size=8 + i)
    (root / "a" / "cut.png").write_bytes((root / "a" / "0.png").read_bytes()[:60])
    cfg = folder_config(root, num_classes=1)
    first = image_folder.list_folder(cfg)
    cache_file = tmp_path / "cache" / "folder_surveys" / survey_cache.cache_path(root).name
    assert capsys.readouterr().err == (f"folder survey of 5 files saved in {cache_file} "
                                       "(reused while the files are unchanged)\n")
    stored = json.loads(cache_file.read_text())
    assert stored["folder"] == str(root.resolve()) and sorted(stored["files"]) == [f"a/{n}" for n in
                                                                                    ("0.png", "1.png", "2.png", "3.png", "cut.png")]
    assert stored["files"]["a/2.png"][2:5] == ["image", 10, 10] and stored["files"]["a/cut.png"][2] == "damaged"

    monkeypatch.setattr(folder_probe, "_MEMO", {})  # a new process: only the file on disk is left
    second = image_folder.list_folder(cfg)
    assert (second.files, second.sizes, second.damaged) == (first.files, first.sizes, first.damaged)
    assert capsys.readouterr().err == f"folder survey: 5 of 5 files as recorded in {cache_file}\n"
    assert len(decoded) == 1

    png(root / "a" / "1.png", 99, size=20)  # changed: size and mtime
    os.utime(root / "a" / "1.png", ns=(1, 1))
    (root / "a" / "3.png").unlink()
    third = image_folder.list_folder(cfg)
    assert decoded[1:] == [[str(root / "a" / "1.png")]]
    assert third.sizes[str(root / "a" / "1.png")] == (20, 20) and len(third.files) == 3
    assert sorted(json.loads(cache_file.read_text())["files"]) == ["a/0.png", "a/1.png", "a/2.png", "a/cut.png"]


def test_only_the_chief_decodes_a_folder_the_other_worker_waits_for_its_survey(tmp_path, monkeypatch):
    monkeypatch.setenv("SAGAN_TF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(folder_probe, "_MEMO", {})
    root = tmp_path / "photos"
    for i in range(6):
        png(root / ("a" if i % 2 else "b") / f"{i}.png", i)
    cfg = config_lib.load("folder32", [f"data.path={root}", "train.batch_size=2", "log.heldout=0"])
    image_folder.resolve_classes(cfg.data)
    decoded, waiting = [], threading.Event()
    real = folder_probe._decode_pass
    monkeypatch.setattr(folder_probe, "_decode_pass", lambda paths: decoded.append(len(paths)) or real(paths))
    real_sleep = data_check.time.sleep

    def sleep(seconds):
        waiting.set()
        real_sleep(0.01)

    monkeypatch.setattr(data_check.time, "sleep", sleep)
    worker = {}
    thread = threading.Thread(target=lambda: worker.setdefault("check", data_check.check_data(cfg, chief=False)))
    thread.start()
    assert waiting.wait(60)  # the worker found no survey and waits
    assert decoded == [] and "check" not in worker
    chief = data_check.check_data(cfg, chief=True)
    thread.join(60)
    assert decoded == [6]  # the folder was decoded once, by the chief
    assert worker["check"].survey.counts == chief.survey.counts == [3, 3]
