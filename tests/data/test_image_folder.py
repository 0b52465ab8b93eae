"""A folder of images (written with Pillow) through ``make_dataset``: labels from the sorted subfolders,
pixels as written, class names, and the one-line errors of a folder that does not fit the config.
"""



import numpy as np
import pytest

import sagan_tf.data.pipeline as data_mod
from sagan_tf.data.pipeline import make_dataset
from sagan_tf.data.pixels import to_uint8
from sagan_tf.errors import DataError
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
