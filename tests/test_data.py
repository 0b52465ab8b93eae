"""Input pipeline: TFDS Fashion-MNIST (private copy), image folders written with Pillow, preprocess.

Expected values come from independent computations: raw TFDS examples read directly with
tensorflow_datasets, PNG pixels from Pillow/numpy, and tf.image ops applied by hand.
Images in [-1, 1] are compared with atol=1e-6, far below one uint8 step (2/255).
"""

import tempfile
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import sagan_tf.training.data as data_mod
from sagan_tf.config import DataConfig
from sagan_tf.errors import DataError
from sagan_tf.training.data import Source, make_dataset, preprocess, to_model_range, to_uint8

ATOL = 1e-6


def _fmnist(**kw) -> DataConfig:
    args = dict(name="fashion_mnist", channels=1, resolution=32, resize="pad", num_classes=10,
                shuffle_buffer=256, cache=False)
    args.update(kw)
    return DataConfig(**args)


def _batches(ds, n):
    return [(x.numpy(), y.numpy()) for x, y in ds.take(n)]


def _scaled(u8) -> np.ndarray:
    return np.asarray(u8, np.float32) / np.float32(127.5) - np.float32(1.0)


# ----------------------------------------------------------------------------------------- TFDS


def test_tfds_batches_shapes_dtypes_ranges(tfds_dir):
    ds = make_dataset(_fmnist(), batch_size=16, data_dir=tfds_dir, seed=0)
    batches = _batches(ds, 3)
    assert len(batches) == 3
    labels = []
    for x, y in batches:
        assert x.shape == (16, 32, 32, 1) and x.dtype == np.float32
        assert y.shape == (16,) and y.dtype == np.int32
        assert x.min() >= -1.0 and x.max() <= 1.0
        assert x.max() > 0.9  # not an all-black batch
        assert np.all((y >= 0) & (y < 10))
        labels.extend(y.tolist())
    assert len(set(labels)) >= 5  # 48 shuffled examples cover several of the 10 classes
    assert ds.element_spec[0].shape.as_list() == [16, 32, 32, 1]  # drop_remainder: static batch


def test_tfds_pad_matches_raw_examples(tfds_dir):
    """resize=pad: 2-pixel border exactly -1, centre 28x28 = raw uint8 / 127.5 - 1, labels equal."""
    import tensorflow_datasets as tfds

    seed, n_batches, batch = 5, 4, 64
    cfg = _fmnist(shuffle_buffer=1)  # no example shuffle: file order
    got = _batches(make_dataset(cfg, batch_size=batch, data_dir=tfds_dir, seed=seed, repeat=False), n_batches)
    images = np.concatenate([x for x, _ in got])
    labels = np.concatenate([y for _, y in got])
    n = n_batches * batch

    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert np.all(images[:, border, 0] == -1.0)

    # the raw split read with the same read config (same file order) ...
    builder = tfds.builder("fashion_mnist", data_dir=tfds_dir)
    raw = builder.as_dataset(split="train", shuffle_files=True, read_config=tfds.ReadConfig(shuffle_seed=seed))
    raw = [(e["image"].numpy(), int(e["label"].numpy())) for e in raw.take(n)]
    raw_images = np.stack([im for im, _ in raw])
    assert raw_images.shape == (n, 28, 28, 1) and raw_images.dtype == np.uint8
    np.testing.assert_allclose(images[:, 2:30, 2:30, :], _scaled(raw_images), rtol=0, atol=ATOL)
    np.testing.assert_array_equal(labels, [label for _, label in raw])

    # ... and, independent of the file order, the same set of images as the unshuffled split start
    plain = tfds.load("fashion_mnist", split=f"train[:{n}]", data_dir=tfds_dir, download=False)
    expected_hashes = {e["image"].numpy().tobytes() for e in plain}
    got_hashes = {to_uint8(images[i, 2:30, 2:30, :]).numpy().tobytes() for i in range(n)}
    assert got_hashes == expected_hashes


def test_tfds_same_seed_same_batches_other_seed_differs(tfds_dir):
    def first(seed):
        return _batches(make_dataset(_fmnist(), batch_size=8, data_dir=tfds_dir, seed=seed), 2)

    a, b, c = first(3), first(3), first(4)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert any(not np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c, strict=True))


def test_tfds_grayscale_to_three_channels(tfds_dir):
    rgb = _batches(make_dataset(_fmnist(channels=3), batch_size=8, data_dir=tfds_dir, seed=1), 2)
    gray = _batches(make_dataset(_fmnist(channels=1), batch_size=8, data_dir=tfds_dir, seed=1), 2)
    for (x3, y3), (x1, y1) in zip(rgb, gray, strict=True):
        assert x3.shape == (8, 32, 32, 3)
        np.testing.assert_array_equal(x3[..., 0], x3[..., 1])
        np.testing.assert_array_equal(x3[..., 0], x3[..., 2])
        np.testing.assert_array_equal(x3[..., :1], x1)
        np.testing.assert_array_equal(y3, y1)


def test_tfds_unconditional_labels_are_zero(tfds_dir):
    cfg = _fmnist(num_classes=0, label_key=None)
    ((x, y),) = _batches(make_dataset(cfg, batch_size=8, data_dir=tfds_dir), 1)
    assert x.shape == (8, 32, 32, 1)
    np.testing.assert_array_equal(y, np.zeros(8, np.int32))


def test_tfds_split_slice_drop_remainder(tfds_dir):
    cfg = _fmnist(split="train[:10]", shuffle_buffer=1)
    got = _batches(make_dataset(cfg, batch_size=4, data_dir=tfds_dir, repeat=False), 10)
    assert [x.shape[0] for x, _ in got] == [4, 4]  # 10 examples -> 2 complete batches
    with pytest.raises(DataError, match="fewer than one batch"):
        make_dataset(cfg, batch_size=16, data_dir=tfds_dir)


def test_tfds_num_classes_mismatch(tfds_dir):
    with pytest.raises(DataError, match="num_classes"):
        make_dataset(_fmnist(num_classes=5), batch_size=4, data_dir=tfds_dir)


def test_tfds_unknown_feature(tfds_dir):
    with pytest.raises(DataError, match="'picture'"):
        make_dataset(_fmnist(image_key="picture"), batch_size=4, data_dir=tfds_dir)


def test_tfds_unknown_name(tmp_path):
    with pytest.raises(DataError, match="no_such_dataset_xyz") as info:
        make_dataset(_fmnist(name="no_such_dataset_xyz"), batch_size=4, data_dir=str(tmp_path))
    assert "\n" not in str(info.value)


def _private_tempdir(monkeypatch, tmp_path):
    """TFDS's failed download_and_prepare leaves an empty mkdtemp() directory behind: keep it in tmp_path."""
    private = tmp_path / "tempfile"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))


def test_tfds_not_prepared_fails_fast(tmp_path, monkeypatch):
    """fashion_mnist in an empty data_dir: the download fails (no network here) -> DataError 'not prepared'
    within seconds (TFDS alone retries 10 times with back-off), naming what to set; TFDS's own retry
    count is left as it was."""
    import tensorflow_datasets.core.download.downloader as downloader

    _private_tempdir(monkeypatch, tmp_path)
    empty = tmp_path / "tfds"
    empty.mkdir()
    start = time.perf_counter()
    with pytest.raises(DataError, match="not prepared") as info:
        make_dataset(_fmnist(), batch_size=4, data_dir=str(empty))
    assert time.perf_counter() - start < 20
    message = str(info.value)
    assert "'fashion_mnist'" in message and str(empty) in message and "\n" not in message
    assert "TFDS_DATA_DIR" in message and "--data-dir" in message
    assert downloader.MAX_RETRIES == 10


def test_tfds_manual_dataset_not_prepared(tmp_path, monkeypatch):
    """A dataset that needs a manual download fails without any network access."""
    _private_tempdir(monkeypatch, tmp_path)
    with pytest.raises(DataError, match="not prepared") as info:
        make_dataset(DataConfig(name="imagenet2012", num_classes=1000), batch_size=4, data_dir=str(tmp_path))
    assert "'imagenet2012'" in str(info.value)
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------------------- preprocess


def test_preprocess_bilinear_center_crop_then_resize():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(64, 48, 3), dtype=np.uint8)  # H=64, W=48
    cfg = DataConfig(channels=3, resolution=32, resize="bilinear", center_crop=True)
    got = preprocess(image, cfg).numpy()

    crop = image[8:56, :, :]  # central 48x48 rows
    resized = tf.image.resize(crop.astype(np.float32), [32, 32], method="bilinear", antialias=True).numpy()
    expected = np.clip(np.round(resized), 0, 255).astype(np.uint8)
    assert got.dtype == np.uint8 and got.shape == (32, 32, 3)
    np.testing.assert_array_equal(got, expected)

    off_centre = tf.image.resize(image[:48].astype(np.float32), [32, 32], method="bilinear", antialias=True)
    assert not np.array_equal(got, np.clip(np.round(off_centre.numpy()), 0, 255).astype(np.uint8))


def test_preprocess_area_without_crop():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(64, 64, 1), dtype=np.uint8)
    cfg = DataConfig(channels=1, resolution=32, resize="area", center_crop=False)
    got = preprocess(image, cfg).numpy()
    # area 2x downsampling = mean of each 2x2 block
    expected = np.round(image.astype(np.float64).reshape(32, 2, 32, 2, 1).mean(axis=(1, 3)))
    np.testing.assert_array_equal(got, expected.astype(np.uint8))


def test_preprocess_pad_28_to_32():
    rng = np.random.default_rng(2)
    image = rng.integers(1, 256, size=(28, 28), dtype=np.uint8)  # rank 2: a channel is added
    got = preprocess(image, DataConfig(channels=1, resolution=32, resize="pad")).numpy()
    np.testing.assert_array_equal(got, np.pad(image, 2)[..., None])


def test_preprocess_rgb_to_gray_and_alpha_dropped():
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, size=(32, 32, 4), dtype=np.uint8)
    rgb = preprocess(rgba, DataConfig(channels=3, resolution=32, resize="pad")).numpy()
    np.testing.assert_array_equal(rgb, rgba[..., :3])
    gray = preprocess(rgba, DataConfig(channels=1, resolution=32, resize="pad")).numpy()
    np.testing.assert_array_equal(gray, tf.image.rgb_to_grayscale(rgba[..., :3]).numpy())


def test_model_range_round_trip_all_values():
    x = np.arange(256, dtype=np.uint8)
    y = to_model_range(x).numpy()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x.astype(np.float64) / 127.5 - 1.0, rtol=0, atol=ATOL)
    assert y[0] == -1.0 and y[255] == 1.0
    back = to_uint8(y).numpy()
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, x)
    np.testing.assert_array_equal(to_uint8(np.array([-3.0, 3.0], np.float32)).numpy(), [0, 255])  # clipped


# ----------------------------------------------------------------------------------------- folders


def _write_pngs(root, spec, size=32, mode="RGB", seed=0):
    """spec: {class_name: n_images}; returns {path: (pixels uint8, class_name)}."""
    rng = np.random.default_rng(seed)
    written = {}
    for class_name, n in spec.items():
        d = root / class_name
        d.mkdir(parents=True)
        for i in range(n):
            shape = (size, size, 3) if mode == "RGB" else (size, size)
            pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
            path = d / f"img{i}.png"
            Image.fromarray(pixels, mode).save(path)
            written[str(path)] = (pixels, class_name)
    return written


def _folder_cfg(path, **kw):
    args = dict(source="folder", path=str(path), channels=3, resolution=32, resize="pad", num_classes=2)
    args.update(kw)
    return DataConfig(**args)


def test_folder_labels_and_pixels(tmp_path):
    # created in reverse order: labels must follow the sorted class names (apple=0, zebra=1)
    written = _write_pngs(tmp_path, {"zebra": 2, "apple": 3})
    (tmp_path / "apple" / "notes.txt").write_text("not an image")
    ds = make_dataset(_folder_cfg(tmp_path), batch_size=5, repeat=False, seed=0)
    got = _batches(ds, 5)
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
        np.testing.assert_allclose(image, _scaled(pixels), rtol=0, atol=ATOL)
        seen.add(key)
    assert seen == set(by_content)  # every image exactly once


def test_folder_source_class_names_and_count(tmp_path):
    _write_pngs(tmp_path, {"b": 1, "a": 2, "c": 1})
    source = data_mod.load_source(_folder_cfg(tmp_path, num_classes=3))
    assert source.class_names == ["a", "b", "c"]
    assert source.num_examples == 4


def test_folder_grayscale_pngs_to_rgb(tmp_path):
    written = _write_pngs(tmp_path, {"only": 3}, mode="L")
    ds = make_dataset(_folder_cfg(tmp_path, num_classes=1), batch_size=3, repeat=False)
    ((x, y),) = _batches(ds, 1)
    expected = {p.tobytes() for p, _ in written.values()}
    assert {to_uint8(im[..., 0]).numpy().tobytes() for im in x} == expected
    np.testing.assert_array_equal(x[..., 0], x[..., 2])
    np.testing.assert_array_equal(y, [0, 0, 0])


def test_folder_unconditional_labels_zero(tmp_path):
    _write_pngs(tmp_path, {"a": 2, "b": 2})
    ds = make_dataset(_folder_cfg(tmp_path, num_classes=0), batch_size=4, repeat=False)
    ((_, y),) = _batches(ds, 1)
    np.testing.assert_array_equal(y, [0, 0, 0, 0])


def test_folder_num_classes_mismatch(tmp_path):
    _write_pngs(tmp_path, {"a": 2, "b": 2, "c": 2})
    with pytest.raises(DataError, match="3 class subfolders"):
        make_dataset(_folder_cfg(tmp_path, num_classes=2), batch_size=2)


def test_folder_missing(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        make_dataset(_folder_cfg(tmp_path / "missing"), batch_size=2)


def test_folder_empty(tmp_path):
    with pytest.raises(DataError, match="no class subfolders"):
        make_dataset(_folder_cfg(tmp_path), batch_size=2)


def test_folder_class_dirs_without_images(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match=r"no (readable )?images") as info:
        make_dataset(_folder_cfg(tmp_path), batch_size=2)
    assert str(tmp_path) in str(info.value)


def test_folder_fewer_images_than_a_batch(tmp_path):
    _write_pngs(tmp_path, {"a": 2, "b": 1})
    with pytest.raises(DataError, match="fewer than one batch"):
        make_dataset(_folder_cfg(tmp_path), batch_size=4)
    # exactly one batch is fine
    ((x, _),) = _batches(make_dataset(_folder_cfg(tmp_path), batch_size=3, repeat=False), 2)
    assert x.shape == (3, 32, 32, 3)


# ----------------------------------------------------------------------------------------- label checks


def _fake_source(monkeypatch, labels):
    images = np.zeros((len(labels), 32, 32, 1), np.uint8)
    ds = tf.data.Dataset.from_tensor_slices((images, tf.constant(labels, tf.int32)))
    monkeypatch.setattr(data_mod, "load_source", lambda cfg, data_dir=None, seed=0: Source(ds, len(labels)))


@pytest.mark.parametrize("bad", [5, 3, -1])
def test_out_of_range_label_fails_on_iteration(monkeypatch, bad):
    _fake_source(monkeypatch, [0, 1, bad, 2])
    cfg = DataConfig(channels=1, resolution=32, resize="pad", num_classes=3, cache=False, shuffle_buffer=1)
    ds = make_dataset(cfg, batch_size=2, repeat=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="label"):
        _batches(ds, 2)


def test_in_range_labels_pass(monkeypatch):
    _fake_source(monkeypatch, [0, 1, 2, 2])
    cfg = DataConfig(channels=1, resolution=32, resize="pad", num_classes=3, cache=False, shuffle_buffer=1)
    got = _batches(make_dataset(cfg, batch_size=2, repeat=False), 2)
    np.testing.assert_array_equal(np.concatenate([y for _, y in got]), [0, 1, 2, 2])
    np.testing.assert_array_equal(got[0][0], -np.ones((2, 32, 32, 1), np.float32))


def test_skip_batches_replays_the_uninterrupted_sequence(tfds_dir):
    """skip_batches=k yields batches k, k+1, ... of the same seed's sequence, across an epoch boundary."""
    cfg = _fmnist(split="train[:40]", shuffle_buffer=40)  # 5 batches of 8 per epoch
    full = _batches(make_dataset(cfg, batch_size=8, data_dir=tfds_dir, seed=2), 10)
    resumed = _batches(make_dataset(cfg, batch_size=8, data_dir=tfds_dir, seed=2, skip_batches=7), 3)
    for (xf, yf), (xr, yr) in zip(full[7:], resumed, strict=True):
        np.testing.assert_array_equal(xr, xf)
        np.testing.assert_array_equal(yr, yf)
    # the second epoch is a different permutation of the same 40 examples
    assert not np.array_equal(full[5][0], full[0][0])
    first, second = (np.concatenate([y for _, y in full[i:i + 5]]) for i in (0, 5))
    np.testing.assert_array_equal(np.sort(first), np.sort(second))


def test_random_flip_mirrors_about_half_the_images_and_replays_exactly(tfds_dir):
    """Each image is either itself or its left-right mirror (the unflipped pipeline is the reference),
    about half are mirrored, and a resumed pipeline (skip_batches) flips its batches alike."""
    plain = _batches(make_dataset(_fmnist(split="train[:64]"), batch_size=8, data_dir=tfds_dir, seed=3), 12)
    cfg = _fmnist(split="train[:64]", random_flip=True)
    flipped = _batches(make_dataset(cfg, batch_size=8, data_dir=tfds_dir, seed=3), 12)
    mirrored = 0
    for (x, y), (xf, yf) in zip(plain, flipped, strict=True):
        np.testing.assert_array_equal(yf, y)
        for image, candidate in zip(x, xf, strict=True):
            same, mirror = np.array_equal(candidate, image), np.array_equal(candidate, image[:, ::-1])
            assert same or mirror
            mirrored += mirror and not same
    assert 0.3 < mirrored / 96 < 0.7
    resumed = _batches(make_dataset(cfg, batch_size=8, data_dir=tfds_dir, seed=3, skip_batches=9), 3)
    for (xr, _), (xf, _) in zip(resumed, flipped[9:], strict=True):
        np.testing.assert_array_equal(xr, xf)
