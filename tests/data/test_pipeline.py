"""The input pipeline around its sources: preprocessing (channels, crop, resize, pad) against tf.image ops
applied by hand, the label range checks, the replay of a resumed run and the seeded flips.

Images in [-1, 1] are compared with atol=1e-6, far below one uint8 step (2/255).
"""

import numpy as np
import pytest
import tensorflow as tf

import sagan_tf.data.pipeline as data_mod
from sagan_tf.config import DataConfig
from sagan_tf.data.pipeline import Source, make_dataset, preprocess
from tests.helpers.data import fmnist_config, take_batches


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
        take_batches(ds, 2)


def test_in_range_labels_pass(monkeypatch):
    _fake_source(monkeypatch, [0, 1, 2, 2])
    cfg = DataConfig(channels=1, resolution=32, resize="pad", num_classes=3, cache=False, shuffle_buffer=1)
    got = take_batches(make_dataset(cfg, batch_size=2, repeat=False), 2)
    np.testing.assert_array_equal(np.concatenate([y for _, y in got]), [0, 1, 2, 2])
    np.testing.assert_array_equal(got[0][0], -np.ones((2, 32, 32, 1), np.float32))


def test_skip_batches_replays_the_uninterrupted_sequence(tfds_dir):
    """skip_batches=k yields batches k, k+1, ... of the same seed's sequence, across an epoch boundary."""
    cfg = fmnist_config(split="train[:40]", shuffle_buffer=40)  # 5 batches of 8 per epoch
    full = take_batches(make_dataset(cfg, batch_size=8, data_dir=tfds_dir, seed=2), 10)
    resumed = take_batches(make_dataset(cfg, batch_size=8, data_dir=tfds_dir, seed=2, skip_batches=7), 3)
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
    plain = take_batches(make_dataset(fmnist_config(split="train[:64]"), batch_size=8, data_dir=tfds_dir, seed=3), 12)
    cfg = fmnist_config(split="train[:64]", random_flip=True)
    flipped = take_batches(make_dataset(cfg, batch_size=8, data_dir=tfds_dir, seed=3), 12)
    mirrored = 0
    for (x, y), (xf, yf) in zip(plain, flipped, strict=True):
        np.testing.assert_array_equal(yf, y)
        for image, candidate in zip(x, xf, strict=True):
            same, mirror = np.array_equal(candidate, image), np.array_equal(candidate, image[:, ::-1])
            assert same or mirror
            mirrored += mirror and not same
    assert 0.3 < mirrored / 96 < 0.7
    resumed = take_batches(make_dataset(cfg, batch_size=8, data_dir=tfds_dir, seed=3, skip_batches=9), 3)
    for (xr, _), (xf, _) in zip(resumed, flipped[9:], strict=True):
        np.testing.assert_array_equal(xr, xf)
