"""Folders of mixed images: what the survey finds (with the files skipped and why), which configs fit
them, and that every pixel format decodes to the RGB values Pillow gives (an independent decoder)."""

import numpy as np
import pytest
from PIL import Image

from sagan_tf.config import AUTO_CLASSES, DataConfig
from sagan_tf.data.folder_survey import check_fit, survey
from sagan_tf.data.image_folder import folder_dataset, list_images, resolve_classes
from sagan_tf.data.pipeline import make_dataset
from sagan_tf.data.subset import shortfall
from sagan_tf.errors import DataError
from tests.data.skipped_files import write_folder_with_skipped_files
from tests.helpers.data import folder_config, take_batches, write_mixed_folder


def test_survey_counts_classes_sizes_modes_and_non_images(tmp_path):
    made = write_mixed_folder(tmp_path)
    found = survey(folder_config(tmp_path, num_classes=AUTO_CLASSES))
    assert found.class_names == ["daisy", "rose", "tulip"] and found.counts == [2, 2, 2]
    assert found.not_images == [str(tmp_path / "tulip" / "notes.jpg")]
    assert sum(found.sizes.values()) == 6 and set(found.sizes) == {(w, h) for w, h, _ in made.values()}
    assert found.size_range() == ((20, 20), (40, 64)) and found.longest_side() == (40, 64)
    assert found.modes == {"RGB": 1, "RGBA": 1, "CMYK": 1, "I;16": 1, "P (colour)": 1, "L": 1}
    assert found.colour_checked == 4 and found.colour_seen == 4  # RGB, RGBA, CMYK, colour palette
    report = "\n".join(found.report())
    assert "images: 6" in report and "0  daisy: 2 images" in report and "files skipped: 1" in report
    assert "from 20x20 to 40x64" in report


def test_auto_classes_are_the_subfolders_or_none(tmp_path):
    write_mixed_folder(tmp_path / "classes")
    cfg = folder_config(tmp_path / "classes", num_classes=AUTO_CLASSES)
    resolve_classes(cfg)
    assert (cfg.num_classes, cfg.class_names) == (3, ["daisy", "rose", "tulip"])

    flat = tmp_path / "flat"
    flat.mkdir()
    for path in (tmp_path / "classes").rglob("*.*"):
        (flat / f"{path.parent.name}_{path.name}").write_bytes(path.read_bytes())
    cfg = folder_config(flat, num_classes=AUTO_CLASSES, skip_corrupt=True)
    resolve_classes(cfg)
    assert (cfg.num_classes, cfg.class_names) == (0, None)
    files, labels, names = list_images(cfg)
    assert len(files) == 6 and set(labels) == {0} and names is None
    with pytest.raises(DataError, match="no class subfolders.*data.num_classes=0"):
        list_images(folder_config(flat, num_classes=3))


def test_every_pixel_format_decodes_to_pillows_rgb(tmp_path):
    write_mixed_folder(tmp_path)
    cfg = folder_config(tmp_path, num_classes=3, skip_corrupt=True)
    ds, count, names = folder_dataset(cfg, seed=0)
    assert count == 6 and names == ["daisy", "rose", "tulip"]
    files, _, _ = list_images(cfg)
    decoded = {tuple(img.shape) for img, _ in ds.as_numpy_iterator()}
    assert len(decoded) == 6 and all(shape[2] == 3 for shape in decoded)
    by_size = {img.shape[:2]: img for img, _ in ds.as_numpy_iterator()}
    for path in files:
        with Image.open(path) as image:
            if image.mode == "I;16":  # Pillow gives 16-bit values: 8 bits of them, as TF scales them
                expected = np.asarray(image, np.float64) / 257.0
                expected = np.repeat(np.round(expected)[..., None], 3, axis=2)
            else:
                expected = np.asarray(image.convert("RGB"), np.float64)
        error = np.abs(by_size[expected.shape[:2]].astype(np.float64) - expected)
        if path.endswith(".jpg"):  # two JPEG decoders (CMYK: Adobe's inverted convention in both) differ a little
            assert error.mean() < 3 and error.max() <= 48, path
        else:  # lossless; 16 -> 8 bits rounds or truncates
            assert error.max() <= 1, path


def test_mixed_folder_trains_at_32_in_rgb(tmp_path):
    write_mixed_folder(tmp_path)
    cfg = folder_config(tmp_path, num_classes=3, resize="area", center_crop=True, skip_corrupt=True)
    ((x, y),) = take_batches(make_dataset(cfg, batch_size=6, repeat=False), 1)
    assert x.shape == (6, 32, 32, 3) and sorted(y) == [0, 0, 1, 1, 2, 2]
    assert -1.0 <= x.min() and x.max() <= 1.0


def fit(tmp_path, spec, batch=4, **kw):
    cfg = DataConfig(**{**dict(source="folder", path=str(tmp_path), resolution=32, channels=3, num_classes=AUTO_CLASSES,
                               resize="area", center_crop=True), **kw})
    found = survey(cfg)
    return check_fit(cfg, found, batch) if spec is None else pytest.raises(DataError, match=spec)


def test_colour_images_into_one_channel_stop_with_what_to_change(tmp_path):
    write_mixed_folder(tmp_path)
    cfg = folder_config(tmp_path, num_classes=3, channels=1, resize="area")
    with pytest.raises(DataError, match=r"colour images \(4 of the 4 looked at\) but data.channels is 1; set data.channels=3"):
        check_fit(cfg, survey(cfg), 4)


def test_grey_images_stored_as_rgb_fit_one_channel(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "a").mkdir()
    for i in range(4):
        grey = rng.integers(0, 256, (32, 32), dtype=np.uint8)
        Image.fromarray(np.stack([grey] * 3, axis=2)).save(tmp_path / "a" / f"{i}.jpg", quality=90)
    cfg = folder_config(tmp_path, num_classes=1, channels=1, resize="area")
    found = survey(cfg)
    assert found.colour_checked == 4 and found.colour_seen == 0
    assert check_fit(cfg, found, 4) == []


def test_pad_on_images_far_larger_than_the_resolution_stops(tmp_path):
    write_mixed_folder(tmp_path)
    big = tmp_path / "daisy" / "big.png"
    Image.new("RGB", (500, 375), (10, 200, 30)).save(big)
    cfg = folder_config(tmp_path, num_classes=3, resize="pad")
    with pytest.raises(DataError, match=r"up to 500x375 but data.resize is pad.*set data.resize=area"):
        check_fit(cfg, survey(cfg), 4)
    big.unlink()  # up to 40x64: not more than twice 32, training can make sense, with a warning
    warnings = check_fit(cfg, survey(cfg), 4)
    assert any("up to 40x64 are cut to their central 32x32" in w for w in warnings)


def test_class_count_batch_and_stray_images_are_checked(tmp_path):
    write_mixed_folder(tmp_path)
    cfg = folder_config(tmp_path, num_classes=2, resize="area")
    with pytest.raises(DataError, match="data.num_classes is 2 but .* has 3 class subfolders; set data.num_classes=auto"):
        check_fit(cfg, survey(cfg), 4)
    cfg = folder_config(tmp_path, num_classes=3, resize="area")
    assert shortfall(survey(cfg).counts, 0, 0, 8, where=str(tmp_path)) == (
        f"{tmp_path} has 6 images, fewer than one batch of 8: set train.batch_size to at most 6 or add images")
    Image.new("RGB", (32, 32)).save(tmp_path / "stray.png")
    warnings = check_fit(cfg, survey(cfg), 4)
    assert any("1 images directly in" in w and "not used" in w for w in warnings)
    assert any(w.startswith("2 images are smaller than 32 pixels") for w in warnings)  # 20x20 and 50x30


def test_a_missing_path_says_how_to_give_it():
    with pytest.raises(DataError, match="data.path is not set: .*--set data.path=DIR"):
        survey(DataConfig(source="folder", path=None))


def test_survey_counts_damaged_bodies_and_unused_formats_and_says_why(tmp_path):
    kinds = write_folder_with_skipped_files(tmp_path)
    (tmp_path / "dogs" / "notes.png").write_text("not an image")
    found = survey(folder_config(tmp_path, num_classes=AUTO_CLASSES, skip_corrupt=True))
    assert found.counts == [2, 2] and found.images == 4
    assert found.not_images == [str(tmp_path / "dogs" / "notes.png")]
    assert found.damaged == kinds["damaged"] and found.not_used == kinds["not_used"]
    assert found.sizes == {(32, 32): 2, (40, 32): 1, (36, 36): 1}  # as decoded: the damaged ones are not counted
    used = "PNG, JPEG, GIF, BMP, WebP and JPEG XL"
    report = found.report()
    start = report.index("files skipped: 6")
    assert report[start:] == [
        "files skipped: 6",
        "  not images (no PNG, JPEG, GIF, BMP, WebP or JPEG XL header): 1",
        "  damaged (an image header, but TensorFlow cannot decode the image): 2",
        "  formats TensorFlow does not decode (.heic, .tif, animated WebP; used: PNG, JPEG, GIF, BMP, WebP, JPEG XL): 3",
        f"  skipping {tmp_path / 'dogs' / 'notes.png'}: not a PNG, JPEG, GIF, BMP, WebP or JPEG XL image",
        *(f"  skipping {p}: a JPEG header, but TensorFlow cannot decode the image (damaged or cut short)"
          for p in kinds["damaged"]),
        f"  skipping {kinds['not_used'][0]}: a .heic file, not used (the formats used are {used})",
        f"  skipping {kinds['not_used'][1]}: an animated WebP, not used (the formats used are {used})",
        f"  skipping {kinds['not_used'][2]}: a .tif file, not used (the formats used are {used})",
    ]
    strict = survey(folder_config(tmp_path, num_classes=AUTO_CLASSES)).report()
    assert strict[-1] == ("training stops on the 3 unreadable file(s) (data.skip_corrupt: false): "
                          "remove them or set data.skip_corrupt: true")


def test_the_batch_check_counts_only_images_that_decode(tmp_path):
    write_folder_with_skipped_files(tmp_path)
    cfg = folder_config(tmp_path, num_classes=AUTO_CLASSES, skip_corrupt=True)
    assert shortfall(survey(cfg).counts, 0, 0, 5, where="F") == (
        "F has 4 images, fewer than one batch of 5: set train.batch_size to at most 4 or add images")
