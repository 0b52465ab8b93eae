"""Real photographs (tests/assets/photos/, public domain) as a user keeps them: three classes in
nested folders, mixed sizes and modes (RGB, RGBA, CMYK JPEG, grayscale), a JPEG cut short, a TIFF,
a text file named .jpg, hidden files; through ``sagan-train --dry-run``, two training steps and ``sagan-sample``, with the
counts and lines a user reads, checked against what Pillow says of the files."""

import numpy as np
import pytest
import yaml
from PIL import Image

from sagan_tf.cli import sample, train
from tests.helpers import REPO
from tests.helpers.cli import run_main

PHOTOS = REPO / "tests" / "assets" / "photos"
TINY = ["model.ch=4", "model.z_dim=16", "train.batch_size=4", "log.samples_per_class=1", "log.samples_every=100",
        "data.shuffle_buffer=8", "train.precision=float32"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """animals/ (2019/, 2020/summer/), space/ (launches/), things/ (grey/): two images each, plus
    a JPEG cut short, a TIFF and hidden files. Returns (root, {relative path: Pillow (size, mode)})."""
    root = tmp_path_factory.mktemp("photos") / "my photos"
    made = {}

    def save(rel, image, **kw):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, **kw)
        with Image.open(path) as back:
            made[rel] = (back.size, back.mode)

    cat, astronaut = Image.open(PHOTOS / "chelsea.jpg"), Image.open(PHOTOS / "astronaut.jpg")
    rocket, coffee, camera = (Image.open(PHOTOS / f) for f in ("rocket.jpg", "coffee.jpg", "camera.png"))
    save("animals/2019/chelsea.jpg", cat, quality=90)
    rgba = cat.resize((64, 64)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((64, 64)))
    save("animals/2020/summer/chelsea.png", rgba)
    save("space/astronaut.jpg", astronaut, quality=90)
    save("space/launches/rocket.jpg", rocket.convert("CMYK"), quality=90)
    save("things/coffee.png", coffee)
    save("things/grey/camera.jpg", camera, quality=90)
    jpeg = (root / "space/astronaut.jpg").read_bytes()
    (root / "things/grey/cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # cut short
    rocket.save(root / "space/launches/rocket.tif")
    (root / "things/notes.jpg").write_text("not an image")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "animals/._chelsea.jpg").write_bytes(b"\0\5\26\7")
    (root / "__MACOSX/animals").mkdir(parents=True)
    cat.save(root / "__MACOSX/animals/chelsea.jpg")
    return root, made


def test_photographs_in_nested_folders_dry_run_train_and_sample(tmp_path, photos, capsys):
    root, made = photos
    base = ["--config", "folder32", "--set", f"data.path={root}", *TINY]
    assert run_main(train.main, [*base, "--dry-run"]) == 0
    report = capsys.readouterr().out.split("---\n")[1].splitlines()
    sizes = sorted({size for size, _ in made.values()}, key=lambda wh: wh[0] * wh[1])
    modes = {}
    for _, mode in made.values():
        modes[mode] = modes.get(mode, 0) + 1
    assert modes == {"RGB": 3, "RGBA": 1, "CMYK": 1, "L": 1}
    assert report[:report.index("files skipped: 3")] == [
        f"images: 6 in {root}", "classes: 3", "     0  animals: 2 images", "     1  space: 2 images",
        "     2  things: 2 images",
        f"image sizes: {len(sizes)} distinct, from {sizes[0][0]}x{sizes[0][1]} to {sizes[-1][0]}x{sizes[-1][1]}",
        "pixel modes: RGB 3, RGBA 1, CMYK 1, L 1",
    ]
    start = report.index("files skipped: 3")
    assert report[start + 1:start + 7] == [
        "  not images (no PNG, JPEG, GIF, BMP, WebP or JPEG XL header): 1",
        "  damaged (an image header, but TensorFlow cannot decode the image): 1",
        "  formats TensorFlow does not decode (.tif; used: PNG, JPEG, GIF, BMP, WebP, JPEG XL): 1",
        f"  skipping {root / 'things/notes.jpg'}: not a PNG, JPEG, GIF, BMP, WebP or JPEG XL image",
        f"  skipping {root / 'things/grey/cut.jpg'}: a JPEG header, but TensorFlow cannot decode the image "
        "(damaged or cut short)",
        f"  skipping {root / 'space/launches/rocket.tif'}: a .tif file, not used (the formats used are PNG, JPEG, "
        "GIF, BMP, WebP and JPEG XL)",
    ]
    assert "training images: 6 of 6; the largest train.batch_size that fits: 6" in report

    run = tmp_path / "run"
    assert run_main(train.main, [*base, "--logdir", str(run), "--steps", "2", "--verbose", "0"]) == 0
    assert (run / "checkpoints" / "ckpt-2.index").exists()
    saved = yaml.safe_load((run / "config.yaml").read_text())["data"]
    assert saved["num_classes"] == 3 and saved["class_names"] == ["animals", "space", "things"]
    assert "name" not in saved  # no key of another data source
    err = capsys.readouterr().err.splitlines()
    assert f"warning: skipping {root / 'things/notes.jpg'}: not a PNG, JPEG, GIF, BMP, WebP or JPEG XL image" in err
    assert (f"warning: skipping 2 unreadable image file(s) (not images: 1, damaged: 1) and 1 file(s) in a format that "
            f"is not used (the formats used are PNG, JPEG, GIF, BMP, WebP and JPEG XL) in {root}; using the other 6 "
            "images") in err

    grid = tmp_path / "grid.png"
    assert run_main(sample.main, ["--logdir", str(run), "--out", str(grid), "--n", "2"]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"wrote {grid}: 3 rows x 2 from {run} (generator_ema of ckpt-2: latest, step 2) (animals, space, things)")
    assert np.asarray(Image.open(grid)).shape == (3 * 32 + 4 * 2, 2 * 32 + 3 * 2, 3)  # 2-pixel borders
    assert run_main(sample.main, ["--logdir", str(run), "--out", str(grid), "--n", "3", "--classes", "things,0"]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"wrote {grid}: 2 rows x 3 from {run} (generator_ema of ckpt-2: latest, step 2) (things, animals)")
    assert run_main(sample.main, ["--logdir", str(run), "--out", str(grid), "--classes", "lily"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --classes takes class ids or one of the names animals, space, things; got 'lily'"]
