"""A folder of images (written with Pillow) through ``make_dataset``: labels from the sorted subfolders,
pixels as written, class names, the one-line errors of a folder that does not fit the config, and the
files skipped (damaged, in a format that is not used): one line each, a count, an exact image count.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sagan_tf.data.pipeline as data_mod
from sagan_tf.data import folder_probe, image_folder
from sagan_tf.data.pipeline import make_dataset
from sagan_tf.data.pixels import to_uint8
from sagan_tf.errors import DataError
from tests.data.skipped_files import JXL_8X6, jxl_pixels, write_folder_with_skipped_files
from tests.helpers.data import ATOL, folder_config, scaled, take_batches, write_pngs


def test_folder_labels_and_pixels(tmp_path):
    # created in reverse order: labels must follow the sorted class names (apple=0, zebra=1)
    written = write_pngs(tmp_path, {"zebra": 2, "apple": 3})
    (tmp_path / "apple" / "notes.txt").write_text("not an image")
    ds = make_dataset(folder_config(tmp_path), batch_size=5, repeat=False, seed=0)
    got = take_batches(ds, 5)
    assert len(got) == 1
    x, y = got[0]
    assert x.shape == (5, 32, 32, 3) and x.dtype == np.float32 and y.dtype == np.int32

    by_content = {pixels.tobytes(): ({"apple": 0, "zebra": 1}[name], pixels) for pixels, name in written.values()}
    seen = set()
    for image, label in zip(x, y, strict=True):
        key = to_uint8(image).numpy().tobytes()
        assert key in by_content
        expected_label, pixels = by_content[key]
        assert label == expected_label
        np.testing.assert_allclose(image, scaled(pixels), rtol=0, atol=ATOL)
        seen.add(key)
    assert seen == set(by_content)  # every image exactly once


def test_folder_source_class_names_and_count(tmp_path):
    write_pngs(tmp_path, {"b": 1, "a": 2, "c": 1})
    source = data_mod.load_source(folder_config(tmp_path, num_classes=3))
    assert source.class_names == ["a", "b", "c"]
    assert source.num_examples == 4


def test_folder_grayscale_pngs_to_rgb(tmp_path):
    written = write_pngs(tmp_path, {"only": 3}, mode="L")
    ds = make_dataset(folder_config(tmp_path, num_classes=1), batch_size=3, repeat=False)
    ((x, y),) = take_batches(ds, 1)
    expected = {p.tobytes() for p, _ in written.values()}
    assert {to_uint8(im[..., 0]).numpy().tobytes() for im in x} == expected
    np.testing.assert_array_equal(x[..., 0], x[..., 2])
    np.testing.assert_array_equal(y, [0, 0, 0])


def test_folder_unconditional_labels_zero(tmp_path):
    write_pngs(tmp_path, {"a": 2, "b": 2})
    ds = make_dataset(folder_config(tmp_path, num_classes=0), batch_size=4, repeat=False)
    ((_, y),) = take_batches(ds, 1)
    np.testing.assert_array_equal(y, [0, 0, 0, 0])


def test_folder_num_classes_mismatch(tmp_path):
    write_pngs(tmp_path, {"a": 2, "b": 2, "c": 2})
    with pytest.raises(DataError, match="3 class subfolders"):
        make_dataset(folder_config(tmp_path, num_classes=2), batch_size=2)


def test_folder_missing(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        make_dataset(folder_config(tmp_path / "missing"), batch_size=2)


def test_folder_empty(tmp_path):
    with pytest.raises(DataError, match="no class subfolders"):
        make_dataset(folder_config(tmp_path), batch_size=2)


def test_folder_class_dirs_without_images(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match=r"no (readable )?images") as info:
        make_dataset(folder_config(tmp_path), batch_size=2)
    assert str(tmp_path) in str(info.value)


def test_folder_fewer_images_than_a_batch(tmp_path):
    write_pngs(tmp_path, {"a": 2, "b": 1})
    with pytest.raises(DataError, match="fewer than one batch"):
        make_dataset(folder_config(tmp_path), batch_size=4)
    # exactly one batch is fine
    ((x, _),) = take_batches(make_dataset(folder_config(tmp_path), batch_size=3, repeat=False), 2)
    assert x.shape == (3, 32, 32, 3)


def test_damaged_and_unused_files_are_skipped_one_line_each_and_the_count_is_exact(tmp_path, capsys):
    kinds = write_folder_with_skipped_files(tmp_path)
    source = data_mod.load_source(folder_config(tmp_path, skip_corrupt=True))
    assert source.num_examples == 4 and source.class_names == ["cats", "dogs"]
    shapes = sorted((img.shape, int(label)) for img, label in source.dataset.as_numpy_iterator())
    assert shapes == [((32, 32, 3), 0), ((32, 32, 3), 0), ((32, 40, 3), 1), ((36, 36, 3), 1)]  # the 4 good images
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    used = "the formats used are PNG, JPEG, GIF, BMP, WebP and JPEG XL"
    assert lines == [
        *(f"warning: skipping {p}: a JPEG header, but TensorFlow cannot decode the image (damaged or cut short)"
          for p in kinds["damaged"]),
        f"warning: skipping {kinds['not_used'][0]}: a .heic file, not used ({used})",
        f"warning: skipping {kinds['not_used'][1]}: an animated WebP, not used ({used})",
        f"warning: skipping {kinds['not_used'][2]}: a .tif file, not used ({used})",
        f"warning: skipping 2 unreadable image file(s) (damaged: 2) and 3 file(s) in a format that is not used ({used}) "
        f"in {tmp_path}; using the other 4 images",
    ]
    data_mod.load_source(folder_config(tmp_path, skip_corrupt=True))  # listed again (held-out images, FID)
    assert "warning:" not in capsys.readouterr().err  # named once


def test_skipped_lines_stop_at_the_cap_and_the_count_goes_on(tmp_path, capsys, monkeypatch):
    write_pngs(tmp_path, {"a": 2})
    for i in range(5):
        (tmp_path / "a" / f"x{i}.tiff").write_bytes(b"II*\x00")
    monkeypatch.setattr(image_folder, "SKIPPED_LINES", 3)
    assert data_mod.load_source(folder_config(tmp_path, num_classes=1)).num_examples == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 4 and [line.split(": a ")[0] for line in lines[:3]] == [
        f"warning: skipping {tmp_path / 'a' / f'x{i}.tiff'}" for i in range(3)]
    assert lines[3].startswith("warning: skipping 5 file(s) in a format that is not used")
    assert lines[3].endswith("(2 of them not named above); using the other 2 images")


def test_a_damaged_file_stops_loading_with_one_line_without_skip_corrupt(tmp_path):
    kinds = write_folder_with_skipped_files(tmp_path)
    with pytest.raises(DataError) as info:
        data_mod.load_source(folder_config(tmp_path))
    assert str(info.value) == (
        f"2 file(s) in {tmp_path} are not readable images (cannot decode image(s) {', '.join(kinds['damaged'])}); "
        "remove them or set data.skip_corrupt: true"
    )
    for path in kinds["damaged"]:
        Path(path).unlink()
    # files in a format that is not used are skipped either way
    assert data_mod.load_source(folder_config(tmp_path)).num_examples == 4


def test_webp_and_jpeg_xl_decode_to_their_pixels(tmp_path):
    rng = np.random.default_rng(3)
    webp = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    (tmp_path / "a").mkdir()
    Image.fromarray(webp).save(tmp_path / "a" / "w.webp", lossless=True)
    (tmp_path / "a" / "x.jxl").write_bytes(JXL_8X6)
    source = data_mod.load_source(folder_config(tmp_path, num_classes=0))
    assert source.num_examples == 2
    got = {img.tobytes() for img, _ in source.dataset.as_numpy_iterator()}
    assert got == {webp.tobytes(), jxl_pixels().tobytes()}


def test_each_file_is_decoded_once_until_it_changes(tmp_path, monkeypatch):
    write_pngs(tmp_path, {"a": 3})
    decoded = []
    real = folder_probe._decode_pass
    monkeypatch.setattr(folder_probe, "_decode_pass", lambda paths: decoded.append(len(paths)) or real(paths))
    cfg = folder_config(tmp_path, num_classes=1)
    assert len(image_folder.list_folder(cfg).files) == 3
    assert len(image_folder.list_folder(cfg).files) == 3
    monkeypatch.setattr(folder_probe, "_MEMO", {})  # as a new process: only the survey cache on disk is left
    assert len(image_folder.list_folder(cfg).files) == 3
    assert decoded == [3]
    changed = tmp_path / "a" / "img1.png"
    changed.write_bytes(changed.read_bytes()[:70])  # cut short after it was checked
    assert image_folder.find_undecodable(cfg) == [str(changed)]
    assert decoded == [3, 1]
