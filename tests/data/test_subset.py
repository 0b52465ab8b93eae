"""The fixed, class-balanced training subset (data.limit) and held-out part (log.heldout)."""

import numpy as np
import pytest
import tensorflow as tf

import sagan_tf.data.pipeline as data_mod
from sagan_tf.config import DataConfig
from sagan_tf.data import subset
from sagan_tf.data.pipeline import Source, fixed_parts, make_dataset


def numpy_parts(labels, classes, heldout, limit):
    """The definition walked in order: held-out share first, then the training share (limit 0: all)."""
    held_share = [heldout // classes + (c < heldout % classes) for c in range(classes)]
    train_share = [limit // classes + (c < limit % classes) for c in range(classes)] if limit else [10**9] * classes
    held, train, parts = [0] * classes, [0] * classes, []
    for y in labels:
        if held[y] < held_share[y]:
            held[y] += 1
            parts.append(subset.HELDOUT)
        elif train[y] < train_share[y]:
            train[y] += 1
            parts.append(subset.TRAIN)
        else:
            parts.append(subset.UNUSED)
    return parts


@pytest.mark.parametrize(("heldout", "limit"), [(0, 10), (7, 0), (7, 10), (5, 23), (30, 30)])
def test_tags_follow_the_definition(heldout, limit):
    labels = np.random.default_rng(0).integers(0, 3, 60)
    labels[:20] = 0  # a skewed start: class 0 fills its shares first
    ds = tf.data.Dataset.from_tensor_slices((np.arange(60), labels.astype(np.int32)))
    got = [int(p) for _, _, p in subset.tag(ds, 3, heldout, limit)]
    assert got == numpy_parts(labels, 3, heldout, limit)
    parts = np.array(got)
    if limit and heldout < 30:  # every class has enough images: the shares exactly
        counts = np.bincount(labels[parts == subset.TRAIN], minlength=3)
        assert counts.tolist() == [limit // 3 + (c < limit % 3) for c in range(3)]


def test_unconditional_data_is_one_class():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(10), np.zeros(10, np.int32)))
    assert [int(p) for _, _, p in subset.tag(ds, 0, 3, 4)] == [1, 1, 1, 0, 0, 0, 0, 2, 2, 2]


def _source(monkeypatch, n=200, classes=4):
    """A fake source whose image i is filled with i; records the seeds it was loaded with."""
    labels = (np.arange(n) * 7 % classes).astype(np.int32)
    images = np.broadcast_to((np.arange(n) % 256).astype(np.uint8)[:, None, None, None], (n, 32, 32, 1))
    seeds = []

    def load(cfg, data_dir=None, seed=0):
        seeds.append(seed)
        return Source(tf.data.Dataset.from_tensor_slices((images, labels)), n)

    monkeypatch.setattr(data_mod, "load_source", load)
    return labels, seeds


def _ids(images):
    return set(np.round((images[:, 0, 0, 0] + 1) * 127.5).astype(int).tolist())


def test_training_batches_hold_only_the_subset_and_never_a_heldout_image(monkeypatch):
    labels, seeds = _source(monkeypatch)
    cfg = DataConfig(channels=1, resolution=32, resize="pad", num_classes=4, limit=40, shuffle_buffer=64)
    seen = set()
    for images, _ in make_dataset(cfg, 8, seed=123, heldout=12).take(20):  # 4 passes over the 40
        seen |= _ids(images.numpy())
    parts = numpy_parts(labels, 4, 12, 40)
    assert seen == {i for i, p in enumerate(parts) if p == subset.TRAIN}
    assert np.bincount(labels[sorted(seen)], minlength=4).tolist() == [10, 10, 10, 10]
    assert seeds == [subset.SUBSET_SEED]  # the fixed order, not train.seed's
    parts_read = fixed_parts(cfg, 12, 12)
    held_images, held_labels = parts_read[subset.HELDOUT]
    assert _ids(held_images) == {i for i, p in enumerate(parts) if p == subset.HELDOUT}
    assert np.bincount(held_labels, minlength=4).tolist() == [3, 3, 3, 3]
    assert held_images.dtype == np.float32 and held_images.min() >= -1 and held_images.max() <= 1
    train_images, train_labels = parts_read[subset.TRAIN]  # the first 12 of the training part, in order
    first_train = [i for i, p in enumerate(parts) if p == subset.TRAIN][:12]
    assert np.round((train_images[:, 0, 0, 0] + 1) * 127.5).astype(int).tolist() == first_train and train_labels.tolist() == labels[first_train].tolist()
    assert seeds == [subset.SUBSET_SEED] * 2  # both parts from one read of the source


def test_without_limit_or_heldout_the_source_is_read_with_the_run_seed(monkeypatch):
    _, seeds = _source(monkeypatch)
    cfg = DataConfig(channels=1, resolution=32, resize="pad", num_classes=4, shuffle_buffer=8)
    next(iter(make_dataset(cfg, 8, seed=123)))
    assert seeds == [123]


def test_a_subset_smaller_than_a_batch_is_one_clear_error(monkeypatch):
    from sagan_tf.errors import DataError

    _source(monkeypatch)
    cfg = DataConfig(channels=1, resolution=32, resize="pad", num_classes=4, limit=6)
    with pytest.raises(DataError, match=r"^data.limit 6 leaves 6 of the 200 images in the dataset for training, "
                       r"fewer than one batch of 8: set data.limit to at least 8$"):
        make_dataset(cfg, 8)


def test_a_source_all_held_out_leaves_no_training_images_and_says_so(monkeypatch):
    from sagan_tf.errors import DataError

    _source(monkeypatch, n=10)
    cfg = DataConfig(channels=1, resolution=32, resize="pad", num_classes=4)
    with pytest.raises(DataError, match="no training images in the data"):
        fixed_parts(cfg, 12, 12)


@pytest.mark.parametrize(("counts", "heldout", "limit"), [([40, 40, 40], 56, 0), ([50, 7, 30], 40, 0), ([9, 30], 4, 20),
                                                          ([120], 0.1, 0), ([5, 60, 60], 0.25, 90)])
def test_training_counts_are_what_the_walk_keeps(counts, heldout, limit):
    """``training_counts`` (what the checks count) against ``tag`` walking a shuffled folder's labels."""
    labels = np.random.default_rng(1).permutation(np.repeat(np.arange(len(counts)), counts)).astype(np.int32)
    held = subset.heldout_count(heldout, sum(counts))
    ds = tf.data.Dataset.from_tensor_slices((np.arange(len(labels)), labels))
    parts = np.array([int(p) for _, _, p in subset.tag(ds, len(counts), held, limit)])
    kept = np.bincount(labels[parts == subset.TRAIN], minlength=len(counts)).tolist()
    assert subset.training_counts(counts, held, limit) == kept


def test_a_share_held_out_is_rounded_and_never_zero():
    assert subset.heldout_count(0.1, 120) == 12 and subset.heldout_count(0.1, 4) == 1
    assert subset.heldout_count(200, 120) == 200 and subset.heldout_count(0, 120) == 0


@pytest.mark.parametrize(("counts", "heldout", "limit", "batch", "line"), [
    ([40, 40, 40], 200, 0, 64, "log.heldout 200 leaves 0 of the 120 images in F for training, fewer than one batch of "
                               "64: set log.heldout to at most 56"),
    ([40, 40, 40], 0.6, 0, 64, "log.heldout 0.6 (72 images) leaves 48 of the 120 images in F for training, fewer than "
                               "one batch of 64: set log.heldout to at most 56"),
    ([12, 12, 12], 0, 0, 64, "F has 36 images, fewer than one batch of 64: set train.batch_size to at most 36 or add images"),
    ([100, 100, 100], 0, 30, 64, "data.limit 30 leaves 30 of the 300 images in F for training, fewer than one batch of "
                                 "64: set data.limit to at least 64"),
    ([30, 30], 20, 30, 64, "log.heldout 20 and data.limit 30 leave 30 of the 60 images in F for training, fewer than "
                           "one batch of 64: set train.batch_size to at most 30 or add images"),
    ([40, 40, 40], 56, 0, 64, None),
])
def test_too_few_images_for_a_batch_says_what_to_change(counts, heldout, limit, batch, line):
    assert subset.shortfall(counts, heldout, limit, batch, where="F") == line


def test_the_largest_heldout_named_leaves_exactly_one_batch():
    """``set log.heldout to at most N``: N leaves a full batch in the walk, N + 1 does not."""
    labels = np.random.default_rng(2).permutation(np.repeat(np.arange(3), [40, 25, 55])).astype(np.int32)
    line = subset.shortfall([40, 25, 55], 200, 0, 64, where="F")
    most = int(line.rsplit(" ", 1)[1])
    ds = tf.data.Dataset.from_tensor_slices((np.arange(120), labels))
    for held, enough in ((most, True), (most + 1, False)):
        train = sum(int(p) == subset.TRAIN for _, _, p in subset.tag(ds, 3, held, 0))
        assert (train >= 64) is enough
