"""The training input pipeline: (image in [-1, 1], int32 label) batches from TFDS or a folder of images.

Images are decoded, given the configured channel count, centre-cropped to a square (optional),
resized (or padded) to ``data.resolution``, cached as uint8, shuffled, repeated, batched with
``drop_remainder``, optionally flipped left-right at random (``data.random_flip``) and prefetched.
Unconditional data (``num_classes: 0``) yields label 0. With ``data.limit`` or held-out images the
source is first cut to its fixed, class-balanced training part (``data.subset``).
A missing or unreadable dataset raises ``DataError`` with one line that says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from sagan_tf.config import DataConfig
from sagan_tf.data import subset
from sagan_tf.data.image_folder import folder_dataset
from sagan_tf.data.pixels import to_model_range
from sagan_tf.data.tfds_source import tfds_source
from sagan_tf.errors import DataError


@dataclass
class Source:
    """Unbatched ``(image uint8 HxWxC, label int32)`` examples and what is known about them."""

    dataset: tf.data.Dataset
    num_examples: int | None
    class_names: list[str] | None = None
    total_examples: int | None = None  # of the whole source, when this is its training part


def load_source(cfg: DataConfig, data_dir: str | None = None, seed: int = 0) -> Source:
    """The configured source (``data.source``): TFDS (``data.tfds_source``) or a folder (``data.image_folder``)."""
    if cfg.source == "tfds":
        return Source(*tfds_source(cfg, data_dir, seed))
    return Source(*folder_dataset(cfg, seed))


def preprocess(image: tf.Tensor, cfg: DataConfig) -> tf.Tensor:
    """uint8 (H, W, C') -> uint8 (R, R, C): channels, centre crop, resize or pad."""
    image = tf.convert_to_tensor(image)
    if image.shape.rank == 2:
        image = image[..., None]
    channels = image.shape[-1]
    if channels == 1 and cfg.channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    elif channels == 3 and cfg.channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    elif channels == 4:
        image = image[..., :3] if cfg.channels == 3 else tf.image.rgb_to_grayscale(image[..., :3])
    if cfg.center_crop:
        shape = tf.shape(image)
        side = tf.minimum(shape[0], shape[1])
        image = tf.image.crop_to_bounding_box(image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side)
    size = cfg.resolution
    if cfg.resize == "pad":
        image = tf.image.resize_with_crop_or_pad(image, size, size)
    else:
        image = tf.image.resize(image, [size, size], method=cfg.resize, antialias=True)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    return tf.ensure_shape(image, [size, size, cfg.channels])


def random_flip(images: tf.Tensor, seed: int, batch_index: tf.Tensor) -> tf.Tensor:
    """Each image of batch ``batch_index`` mirrored left-right with probability 1/2, by a stateless
    draw keyed on (seed, batch_index): the same batches get the same flips in every run."""
    key = tf.stack([tf.constant(seed, tf.int64), tf.cast(batch_index, tf.int64)])
    flip = tf.random.stateless_uniform([tf.shape(images)[0]], seed=key) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)


def _labels_checked(cfg: DataConfig):
    """``(image, label) -> (preprocessed image, label)``, failing on a label outside [0, num_classes)."""
    num_classes = cfg.num_classes

    def prepare(image, label):
        image = preprocess(image, cfg)
        if num_classes > 0:
            checks = [
                tf.debugging.assert_non_negative(label, message="label below 0 in the data"),
                tf.debugging.assert_less(
                    label, num_classes, message=f"label >= data.num_classes ({num_classes}) in the data"
                ),
            ]
            with tf.control_dependencies(checks):
                label = tf.identity(label)
        return image, label

    return prepare


def training_source(cfg: DataConfig, data_dir: str | None, seed: int, heldout: float = 0) -> Source:
    """The source, cut to its training part when ``data.limit`` or ``heldout`` (a count, or a share
    of the images in (0, 1): ``subset.heldout_count``) asks for one."""
    if not cfg.limit and not heldout:
        return load_source(cfg, data_dir, seed)
    source = load_source(cfg, data_dir, subset.SUBSET_SEED)
    held = subset.heldout_count(heldout, source.num_examples)
    dataset = subset.part(source.dataset, cfg.num_classes, held, cfg.limit, subset.TRAIN)
    return Source(dataset, subset.part_size(source.num_examples, held, cfg.limit), source.class_names, source.num_examples)


def fixed_parts(cfg: DataConfig, count: int | None, heldout: float, data_dir: str | None = None):
    """The first ``count`` images (None: as many as are held out) of the training part and of the
    held-out part (``heldout``: a count or a share, ``subset.heldout_count``) in the fixed order,
    read in one pass, as ``{subset.TRAIN: (images, labels), subset.HELDOUT: (images, labels)}`` of
    numpy arrays (images float32 in [-1, 1], labels int32)."""
    source = load_source(cfg, data_dir, subset.SUBSET_SEED)
    heldout = subset.heldout_count(heldout, source.num_examples)
    count = heldout if count is None else count
    prepare = _labels_checked(cfg)

    def prepared(image, label, part):
        image, label = prepare(image, label)
        return to_model_range(image), label, part

    ds = subset.tag(source.dataset, cfg.num_classes, heldout, cfg.limit)
    ds = ds.filter(lambda image, label, part: tf.not_equal(part, subset.UNUSED)).map(prepared).batch(max(2 * count, 1))
    found = {subset.TRAIN: ([], []), subset.HELDOUT: ([], [])}
    for images, labels, parts in ds.as_numpy_iterator():
        for which, (kept_images, kept_labels) in found.items():
            mine = parts == which
            kept_images.extend(images[mine])
            kept_labels.extend(labels[mine])
        if all(len(kept) >= count for kept, _ in found.values()):
            break
    for which, (kept_images, _) in found.items():
        if not kept_images:
            raise DataError(f"no {'held-out' if which == subset.HELDOUT else 'training'} images in the data")
    return {
        which: (np.stack(images[:count]), np.asarray(labels[:count], np.int32))
        for which, (images, labels) in found.items()
    }


def make_dataset(
    cfg: DataConfig,
    batch_size: int,
    data_dir: str | None = None,
    seed: int = 0,
    repeat: bool = True,
    skip_batches: int = 0,
    heldout: float = 0,
) -> tf.data.Dataset:
    """Batched ``(images float32 (B, R, R, C) in [-1, 1], labels int32 (B,))``.

    ``batch_size`` is the global batch; batches are complete (``drop_remainder``), so every
    replica of a ``tf.distribute`` strategy gets the same number of examples. The sequence of
    batches is a deterministic function of ``seed``; ``skip_batches`` replays (reads and drops) the
    first batches, so a resumed run sees exactly the batches an uninterrupted one would.
    ``heldout`` images (``log.heldout``: a count or a share) are kept out (``data.subset``); too few
    images left for one batch is a ``DataError`` saying what to change (``subset.shortfall``).
    """
    source = training_source(cfg, data_dir, seed, heldout)
    ds = source.dataset.map(_labels_checked(cfg), num_parallel_calls=tf.data.AUTOTUNE)
    if cfg.cache:
        ds = ds.cache()
    if source.num_examples is not None and source.num_examples < batch_size:
        counts = [source.total_examples or source.num_examples]
        raise DataError(subset.shortfall(counts, heldout, cfg.limit, batch_size, where="the dataset") or
                        f"the dataset has {source.num_examples} images, fewer than one batch of {batch_size}")
    if cfg.shuffle_buffer > 1:
        ds = ds.shuffle(cfg.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    if cfg.random_flip:
        # Numbered before the replay's skip: batch k is flipped alike in a resumed run.
        ds = ds.enumerate().map(lambda k, batch: (random_flip(batch[0], seed, k), batch[1]))
    if skip_batches:
        ds = ds.skip(skip_batches)
    ds = ds.map(lambda x, y: (to_model_range(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    # Multi-worker: every worker runs this same deterministic pipeline and keeps its share of each
    # global batch (file-based sharding would need at least one file per worker).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
