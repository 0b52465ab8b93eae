"""Fixed, class-balanced parts of a source: a training subset (``data.limit``) and held-out images
(``log.heldout``), for studying (and watching) D on small data.

The source is read in a fixed order, the one it has with ``SUBSET_SEED`` whatever ``train.seed`` is
(TFDS: the prepared dataset's shuffled order; a folder: its files shuffled with that seed), so runs
with different seeds see the same images. Walking that order, each image goes

- to the held-out part while its class has fewer than its share of ``heldout`` images there,
- else to the training part while its class has fewer than its share of ``limit`` (``limit = 0``:
  every remaining image),
- else nowhere.

A class's share of ``n`` images is ``n // C``, plus one for the first ``n % C`` classes (C classes;
unconditional data counts as one class). A class with fewer images than its share gives all it has.
The parts are disjoint; changing ``heldout`` changes which images are left for training.
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf.errors import DataError

SUBSET_SEED = 0
TRAIN, HELDOUT, UNUSED = 0, 1, 2


def shares(n: int, classes: int) -> list[int]:
    """Each class's share of ``n`` images."""
    return [n // classes + (1 if c < n % classes else 0) for c in range(classes)]


def tag(dataset: tf.data.Dataset, num_classes: int, heldout: int, limit: int) -> tf.data.Dataset:
    """``(image, label)`` -> ``(image, label, part)``, ``part`` being ``TRAIN``, ``HELDOUT`` or ``UNUSED``."""
    classes = max(num_classes, 1)
    held_share = tf.constant(shares(heldout, classes), tf.int64)
    train_share = tf.constant(shares(limit, classes) if limit else [2**62] * classes, tf.int64)

    def walk(counts, example):
        image, label = example
        held, train = counts
        # Out-of-range labels are counted in a valid class: the pipeline's label check names them.
        c = tf.clip_by_value(tf.cast(label, tf.int32), 0, classes - 1) if num_classes > 0 else 0
        to_held = held[c] < held_share[c]
        to_train = tf.logical_and(tf.logical_not(to_held), train[c] < train_share[c])
        one = tf.one_hot(c, classes, dtype=tf.int64)
        counts = (held + one * tf.cast(to_held, tf.int64), train + one * tf.cast(to_train, tf.int64))
        part = tf.where(to_held, HELDOUT, tf.where(to_train, TRAIN, UNUSED))
        return counts, (image, label, part)

    zeros = tf.zeros([classes], tf.int64)
    return dataset.scan((zeros, zeros), walk)


def part(dataset: tf.data.Dataset, num_classes: int, heldout: int, limit: int, which: int) -> tf.data.Dataset:
    """The ``(image, label)`` examples of one part (``TRAIN`` or ``HELDOUT``), in the fixed order."""

    def wanted(image, label, p):
        return tf.equal(p, which)

    def untagged(image, label, p):
        return image, label

    return tag(dataset, num_classes, heldout, limit).filter(wanted).map(untagged)


def part_size(num_examples: int | None, heldout: int, limit: int) -> int | None:
    """At most how many images the training part has (None: unknown)."""
    if num_examples is None:
        return limit or None
    rest = max(num_examples - heldout, 0)
    return min(rest, limit) if limit else rest


def heldout_count(heldout: float, num_examples: int | None) -> int:
    """``log.heldout`` as a number of images: a count as it is; a share in (0, 1) of the
    ``num_examples`` images, rounded, at least 1."""
    if heldout >= 1 or heldout <= 0:
        return int(heldout)
    if num_examples is None:
        raise DataError(f"log.heldout {heldout} is a share of the images, but this source does not say how many "
                        "it has: give a count")
    return max(1, round(heldout * num_examples))


def training_counts(counts: list[int], heldout: int, limit: int) -> list[int]:
    """Images per class in the training part (exact, as ``tag`` walks), for ``counts`` images per
    class (one count: unconditional)."""
    classes = len(counts)
    held = [min(n, share) for n, share in zip(counts, shares(heldout, classes), strict=True)]
    cap = shares(limit, classes) if limit else [2**62] * classes
    return [min(n - h, c) for n, h, c in zip(counts, held, cap, strict=True)]


def heldout_text(heldout: float, count: int) -> str:
    return f"{heldout:g} ({count} images)" if 0 < heldout < 1 else str(count)


def shortfall(counts: list[int], heldout: float, limit: int, batch_images: int, d_steps: int = 1,
              where: str = "the data") -> str | None:
    """One line saying what to change when the training part (after ``data.limit`` and
    ``log.heldout``) of images with ``counts`` per class has fewer than ``batch_images`` images
    (a global batch times ``d_steps``); None when it has enough."""
    total = sum(counts)
    held = heldout_count(heldout, total)
    train = sum(training_counts(counts, held, limit))
    if train >= batch_images:
        return None
    if held and sum(training_counts(counts, 0, limit)) >= batch_images:
        lo, hi = 0, held  # the largest count that leaves a batch: training is non-increasing in heldout
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if sum(training_counts(counts, mid, limit)) >= batch_images else (lo, mid)
        return (f"log.heldout {heldout_text(heldout, held)} leaves {train} of the {total} images in {where} for "
                f"training, fewer than one batch of {batch_images}: set log.heldout to at most {lo}")
    if limit and sum(training_counts(counts, held, 0)) >= batch_images:
        return (f"data.limit {limit} leaves {train} of the {total} images in {where} for training, fewer than one "
                f"batch of {batch_images}: set data.limit to at least {batch_images}")
    fits = train // d_steps
    change = f"set train.batch_size to at most {fits} or add images" if fits else "add images"
    parts = [f"log.heldout {heldout_text(heldout, held)}"] * bool(held) + [f"data.limit {limit}"] * bool(limit)
    if parts:
        return (f"{' and '.join(parts)} {'leave' if len(parts) > 1 else 'leaves'} {train} of the {total} images in {where} for training, fewer than "
                f"one batch of {batch_images}: {change}")
    return f"{where} has {total} images, fewer than one batch of {batch_images}: {change}"
