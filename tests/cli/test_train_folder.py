"""sagan-train on a folder of the user's images (training on real photographs, sampling by class
name: test_photos.py): the folder configs, classes found by themselves,
--dry-run, one line for a config that does not fit the images, and the files skipped (damaged, in a
format that is not used) named and counted in the dry run and in training."""

import numpy as np
import pytest
import yaml
from PIL import Image

from sagan_tf import config as config_lib
from sagan_tf.data.class_names import class_names
from sagan_tf.training.builders import build_discriminator, build_generator
from tests.data.skipped_files import write_folder_with_skipped_files
from tests.helpers.cli import run_cli, run_main
from tests.helpers.data import write_mixed_folder

# folder32 made tiny: 6 images, batches of 4, two steps
TINY_FOLDER = ["model.ch=4", "model.z_dim=16", "train.batch_size=4", "log.samples_per_class=1", "log.samples_every=100",
               "data.shuffle_buffer=8", "train.precision=float32"]


def folder_run(logdir, path, *extra, config="folder32", steps=2):
    return ["--config", config, "--logdir", str(logdir), "--steps", str(steps), "--verbose", "0",
            "--set", f"data.path={path}", *TINY_FOLDER, *extra]


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("flowers")
    write_mixed_folder(root)
    return root


@pytest.fixture(scope="module")
def skipped_folder(tmp_path_factory):
    """4 good images (2 cats, 2 dogs), 2 damaged JPEGs, 3 files in formats that are not used."""
    root = tmp_path_factory.mktemp("pets")
    return root, write_folder_with_skipped_files(root)


def test_the_class_names_stay_with_the_run_when_the_folder_moves(tmp_path, mixed_folder):
    cfg = config_lib.load("folder32", [f"data.path={tmp_path / 'moved'}", "data.num_classes=3",
                                       "data.class_names=[daisy,rose,tulip]"])
    assert class_names(cfg.data) == ["daisy", "rose", "tulip"]


def test_images_without_subfolders_train_unconditionally(tmp_path, mixed_folder):
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in mixed_folder.rglob("*.*"):
        (flat / f"{path.parent.name}_{path.name}").write_bytes(path.read_bytes())
    run = tmp_path / "run"
    result = run_cli("sagan_tf.train", *folder_run(run, flat))
    assert result.returncode == 0, result.stderr[-3000:]
    saved = yaml.safe_load((run / "config.yaml").read_text())["data"]
    assert saved["num_classes"] == 0 and saved["class_names"] is None
    sampled = run_cli("sagan_tf.cli.sample", "--logdir", str(run), "--out", str(tmp_path / "g.png"), "--n", "2")
    assert sampled.returncode == 0 and "8 rows x 2" in sampled.stderr


def test_dry_run_reports_the_data_model_and_replicas_and_writes_nothing(tmp_path, mixed_folder):
    run = tmp_path / "run"
    result = run_cli("sagan_tf.train", *folder_run(run, mixed_folder), "--strategy", "mirrored", "--virtual-cpus", "2",
                     "--dry-run", "--set", "augment.policy=color,cutout", "augment.ada_target=0.6", "data.limit=4",
                     "train.lecam_weight=0.3", "train.mode_seeking=0.5",
                     "train.mode_seeking_per_class=true")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not run.exists()
    out = result.stdout
    config_text, report = out.split("\n---\n")
    resolved = yaml.safe_load(config_text)
    assert resolved["data"]["num_classes"] == 3 and resolved["data"]["class_names"] == ["daisy", "rose", "tulip"]
    for line in ("images: 6 in", "classes: 3", "0  daisy: 2 images", "1  rose: 2 images", "2  tulip: 2 images",
                 "image sizes: 6 distinct, from 20x20 to 40x64", "files skipped: 1",
                 "replicas: 2 (mirrored), global batch 4 = 2 per replica, 1 D update(s) per step, 2 steps",
                 "dry run: nothing written",
                 "subset: 0 images held out (log.heldout), then training on 4 images (data.limit), balanced over the classes",
                 "small data: augmentation color,cutout, probability 1.0 adaptive (ADA, target 0.6); LeCam weight 0.3",
                 "mode seeking: weight 0.5 in G's loss over pairs of codes of one class, relative to each class's "
                 "real spread (train.mode_seeking)"):
        assert line in report, (line, report)
    cfg = config_lib.load("folder32", [f"data.path={mixed_folder}", *TINY_FOLDER, "data.num_classes=3"])
    g, d = build_generator(cfg), build_discriminator(cfg)
    counts = [sum(int(np.prod(v.shape)) for v in net.trainable_weights) for net in (g, d)]
    assert f"G {counts[0]:,} and D {counts[1]:,} trainable parameters" in report


@pytest.mark.parametrize(
    "config, extra, message",
    [
        ("fashion_mnist32", ["data.source=folder", "data.num_classes=auto"],
         "holds colour images (5 of the 5 looked at) but data.channels is 1; set data.channels=3"),  # with big.jpg
        ("folder32", ["data.resize=pad", "data.center_crop=false"], "but data.resize is pad"),
        ("folder32", ["data.num_classes=5"], "data.num_classes is 5 but"),
    ],
    ids=["colour-into-grayscale", "pad-large-images", "class-count"],
)
def test_a_config_that_does_not_fit_the_images_is_one_line_and_writes_nothing(tmp_path, mixed_folder, config, extra,
                                                                             message):
    big = mixed_folder / "rose" / "big.jpg"
    Image.new("RGB", (500, 375), (200, 30, 60)).save(big)
    try:
        run = tmp_path / "run"
        result = run_cli("sagan_tf.train", *folder_run(run, mixed_folder, *extra, config=config))
    finally:
        big.unlink()
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert not run.exists()


USED = "the formats used are PNG, JPEG, GIF, BMP, WebP and JPEG XL"


def test_dry_run_counts_and_names_damaged_and_unused_files(tmp_path, skipped_folder):
    root, kinds = skipped_folder
    run = tmp_path / "run"
    result = run_cli("sagan_tf.train", *folder_run(run, root), "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not run.exists()
    report = result.stdout.split("\n---\n")[1].splitlines()
    for line in ("images: 4 in", "     0  cats: 2 images", "     1  dogs: 2 images", "files skipped: 5",
                 "  damaged (an image header, but TensorFlow cannot decode the image): 2",
                 "  formats TensorFlow does not decode (.heic, .tif, animated WebP; used: PNG, JPEG, GIF, BMP, WebP, "
                 "JPEG XL): 3"):
        assert any(got.startswith(line) for got in report), (line, report)
    named = [got for got in report if got.startswith("  skipping ")]
    assert [got.split(": ")[0] for got in named] == [f"  skipping {p}" for p in kinds["damaged"] + kinds["not_used"]]
    assert not any(got.startswith("  not images") or "training stops" in got for got in report)


def test_training_skips_damaged_and_unused_files_with_a_line_each(tmp_path, skipped_folder):
    root, kinds = skipped_folder
    run = tmp_path / "run"
    result = run_cli("sagan_tf.train", *folder_run(run, root, steps=1))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning: skipping")]
    assert [line.split(": ")[1] for line in lines[:5]] == [f"skipping {p}" for p in kinds["damaged"] + kinds["not_used"]]
    assert lines[5] == (f"warning: skipping 2 unreadable image file(s) (damaged: 2) and 3 file(s) in a format that is "
                        f"not used ({USED}) in {root}; using the other 4 images")
    assert len(lines) == 6  # named once, though the folder is listed at the start and for the pipeline
    assert (run / "config.yaml").exists()


def test_without_skip_corrupt_a_damaged_file_is_one_line_and_writes_nothing(tmp_path, skipped_folder):
    root, kinds = skipped_folder
    run = tmp_path / "run"
    result = run_cli("sagan_tf.train", *folder_run(run, root, "data.skip_corrupt=false"))
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: 2 file(s) in {root} are not readable images (cannot decode image(s) "
                      f"{', '.join(kinds['damaged'])}); remove them or set data.skip_corrupt: true"], result.stderr[-2000:]
    assert "Traceback" not in result.stderr and not run.exists()


def small_pngs(root, per_class):
    """8x8 PNGs, ``per_class`` per class folder: {class: count}."""
    rng = np.random.default_rng(0)
    for name, count in per_class.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / name / f"{i}.png")


UNBATCHED = [item for item in TINY_FOLDER if not item.startswith("train.batch_size")]  # the preset's batch of 64


def run_train(argv, capsys):
    from sagan_tf.cli.train import main

    status = run_main(main, argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err.strip().splitlines()


def test_held_out_images_larger_than_the_folder_say_what_to_change(tmp_path, capsys):
    root = tmp_path / "photos"
    small_pngs(root, {"cats": 40, "dogs": 40, "zebras": 40})
    survey = [f"images: 120 in {root}", "classes: 3", "     0  cats: 40 images", "     1  dogs: 40 images",
              "     2  zebras: 40 images", "image sizes: 1 distinct, from 8x8 to 8x8", "pixel modes: RGB 120",
              "files skipped: 0"]
    base = ["--config", "folder32_small", "--set", f"data.path={root}", *UNBATCHED]
    status, out, err = run_train([*base, "log.heldout=200", "--dry-run"], capsys)
    assert status == 2
    assert out.split("---\n")[1].splitlines() == [
        *survey, "training images: 0 of 120 (log.heldout 200 held out); the largest train.batch_size that fits: 0"]
    line = (f"error: log.heldout 200 leaves 0 of the 120 images in {root} for training, fewer than one batch of 64: "
            "set log.heldout to at most 56")  # 120 - 56 = 64
    assert err[-1] == line and not any(e.startswith("error:") for e in err[:-1])

    run = tmp_path / "run"
    status, out, err = run_train([*base, "log.heldout=200", "--logdir", str(run)], capsys)
    assert status == 2 and err[-1] == line
    assert err[err.index(survey[0]):-1][:len(survey)] == survey  # the survey, then the line
    assert not run.exists()

    status, out, err = run_train([*base, "--dry-run"], capsys)  # the preset holds out a tenth
    assert status == 0, err
    held = round(0.1 * 120)
    assert (f"training images: {120 - held} of 120 (log.heldout 0.1 ({held} images) held out); "
            f"the largest train.batch_size that fits: {120 - held}") in out.splitlines()


def test_too_few_images_for_the_batch_show_the_survey_and_the_batch_that_fits(tmp_path, capsys):
    root = tmp_path / "photos"
    small_pngs(root, {"a": 20, "b": 16})
    status, out, err = run_train(["--config", "folder32", "--set", f"data.path={root}", *UNBATCHED, "--dry-run"], capsys)
    assert status == 2
    report = out.split("---\n")[1].splitlines()
    assert report[:4] == [f"images: 36 in {root}", "classes: 2", "     0  a: 20 images", "     1  b: 16 images"]
    assert report[-1] == "training images: 36 of 36; the largest train.batch_size that fits: 36"
    assert err[-1] == (f"error: {root} has 36 images, fewer than one batch of 64: set train.batch_size to at most 36 "
                       "or add images")
    status, out, err = run_train(["--config", "folder32", "--set", f"data.path={root}", *UNBATCHED, "--dry-run",
                                  "--batch-size", "36"], capsys)
    assert status == 0, err
