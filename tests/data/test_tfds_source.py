"""A TFDS source (the repository's Fashion-MNIST sample, ``tfds_dir``) through ``make_dataset``, against the raw
examples read with tensorflow_datasets, and the one-line errors of a dataset that is unknown, not prepared or
without network.
"""


import errno
import tempfile

import numpy as np
import pytest

from sagan_tf.config import DataConfig
from sagan_tf.data.pipeline import make_dataset
from sagan_tf.data.pixels import to_uint8
from sagan_tf.errors import DataError
from tests.helpers.data import ATOL, fmnist_config, scaled, take_batches


def test_tfds_batches_shapes_dtypes_ranges(tfds_dir):
    ds = make_dataset(fmnist_config(), batch_size=16, data_dir=tfds_dir, seed=0)
    batches = take_batches(ds, 3)
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
    cfg = fmnist_config(shuffle_buffer=1)  # no example shuffle: file order
    got = take_batches(make_dataset(cfg, batch_size=batch, data_dir=tfds_dir, seed=seed, repeat=False), n_batches)
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
    np.testing.assert_allclose(images[:, 2:30, 2:30, :], scaled(raw_images), rtol=0, atol=ATOL)
    np.testing.assert_array_equal(labels, [label for _, label in raw])

    # ... and, independent of the file order, the same set of images as the unshuffled split start
    plain = tfds.load("fashion_mnist", split=f"train[:{n}]", data_dir=tfds_dir, download=False)
    expected_hashes = {e["image"].numpy().tobytes() for e in plain}
    got_hashes = {to_uint8(images[i, 2:30, 2:30, :]).numpy().tobytes() for i in range(n)}
    assert got_hashes == expected_hashes


def test_tfds_same_seed_same_batches_other_seed_differs(tfds_dir):
    def first(seed):
        return take_batches(make_dataset(fmnist_config(), batch_size=8, data_dir=tfds_dir, seed=seed), 2)

    a, b, c = first(3), first(3), first(4)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert any(not np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c, strict=True))


def test_tfds_grayscale_to_three_channels(tfds_dir):
    rgb = take_batches(make_dataset(fmnist_config(channels=3), batch_size=8, data_dir=tfds_dir, seed=1), 2)
    gray = take_batches(make_dataset(fmnist_config(channels=1), batch_size=8, data_dir=tfds_dir, seed=1), 2)
    for (x3, y3), (x1, y1) in zip(rgb, gray, strict=True):
        assert x3.shape == (8, 32, 32, 3)
        np.testing.assert_array_equal(x3[..., 0], x3[..., 1])
        np.testing.assert_array_equal(x3[..., 0], x3[..., 2])
        np.testing.assert_array_equal(x3[..., :1], x1)
        np.testing.assert_array_equal(y3, y1)


def test_tfds_unconditional_labels_are_zero(tfds_dir):
    cfg = fmnist_config(num_classes=0, label_key=None)
    ((x, y),) = take_batches(make_dataset(cfg, batch_size=8, data_dir=tfds_dir), 1)
    assert x.shape == (8, 32, 32, 1)
    np.testing.assert_array_equal(y, np.zeros(8, np.int32))


def test_tfds_split_slice_drop_remainder(tfds_dir):
    cfg = fmnist_config(split="train[:10]", shuffle_buffer=1)
    got = take_batches(make_dataset(cfg, batch_size=4, data_dir=tfds_dir, repeat=False), 10)
    assert [x.shape[0] for x, _ in got] == [4, 4]  # 10 examples -> 2 complete batches
    with pytest.raises(DataError, match="fewer than one batch"):
        make_dataset(cfg, batch_size=16, data_dir=tfds_dir)


def test_tfds_num_classes_mismatch(tfds_dir):
    with pytest.raises(DataError, match="num_classes"):
        make_dataset(fmnist_config(num_classes=5), batch_size=4, data_dir=tfds_dir)


def test_tfds_unknown_feature(tfds_dir):
    with pytest.raises(DataError, match="'picture'"):
        make_dataset(fmnist_config(image_key="picture"), batch_size=4, data_dir=tfds_dir)


def test_tfds_unknown_name(tmp_path):
    with pytest.raises(DataError, match="no_such_dataset_xyz") as info:
        make_dataset(fmnist_config(name="no_such_dataset_xyz"), batch_size=4, data_dir=str(tmp_path))
    assert "\n" not in str(info.value)


def _private_tempdir(monkeypatch, tmp_path):
    """TFDS's failed download_and_prepare leaves an empty mkdtemp() directory behind: keep it in tmp_path."""
    private = tmp_path / "tempfile"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))


@pytest.fixture
def offline(monkeypatch):
    """No network, simulated: every HTTP(S) connection TFDS's downloader opens fails as an unreachable
    network would. Yields the list of attempted connections (host names)."""
    import urllib3.connection

    attempts = []

    def unreachable(self, *args, **kwargs):
        attempts.append(self.host)
        raise OSError(errno.ENETUNREACH, "Network is unreachable (simulated)")

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "connect", unreachable)
    monkeypatch.setattr(urllib3.connection.HTTPSConnection, "connect", unreachable)
    return attempts


def test_tfds_not_prepared_and_offline_fails_with_one_line_after_few_retries(tmp_path, monkeypatch, offline):
    """fashion_mnist in an empty data_dir without network -> DataError 'not prepared' naming what to set,
    after at most 1 + DOWNLOAD_RETRIES attempts per file (TFDS alone retries 10 times with back-off);
    TFDS's own retry count is left as it was."""
    import tensorflow_datasets.core.download.downloader as downloader

    from sagan_tf.data.tfds_source import DOWNLOAD_RETRIES

    _private_tempdir(monkeypatch, tmp_path)
    empty = tmp_path / "tfds"
    empty.mkdir()
    with pytest.raises(DataError, match="not prepared") as info:
        make_dataset(fmnist_config(), batch_size=4, data_dir=str(empty))
    message = str(info.value)
    assert "'fashion_mnist'" in message and str(empty) in message and "\n" not in message
    assert "TFDS_DATA_DIR" in message and "--data-dir" in message
    assert offline, "the download was never attempted"
    files = 4  # train/test images and labels
    assert len(offline) <= files * (1 + DOWNLOAD_RETRIES), offline
    assert downloader.MAX_RETRIES == 10


def test_tfds_manual_dataset_not_prepared(tmp_path, monkeypatch, offline):
    """A dataset that needs a manual download fails with one line (offline: nothing is fetched)."""
    _private_tempdir(monkeypatch, tmp_path)
    with pytest.raises(DataError, match="not prepared") as info:
        make_dataset(DataConfig(name="imagenet2012", num_classes=1000), batch_size=4, data_dir=str(tmp_path))
    assert "'imagenet2012'" in str(info.value)
    assert "\n" not in str(info.value)
