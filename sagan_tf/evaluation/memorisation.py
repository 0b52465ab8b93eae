"""``sagan-evaluate --nearest N``: does the generator copy its training images?

Reads the run's training images once (its ``data`` section and ``data.split``, prepared exactly as
for training) through the feature model, and keeps their feature vectors and pixels (the images in
[-1, 1], flattened) in two temporary files (``nearest.VectorStore``). Then, in both spaces, the
nearest training images of ``samples`` class-balanced generated images (the evaluation's own
sampler: image i is the evaluation's image i) and of as many held-out real images (the evaluation's
real split, when it is not the training split), and the memorisation rate of the ``nearest``
module. The picture shows the first N generated images beside their 3 nearest training images in
each space, with the distances.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from sagan_tf.evaluation.nearest import VectorStore, search, summary
from sagan_tf.files import atomic_path

SPACES = ("features", "pixels")
NEIGHBOURS = 3  # training images shown per space and generated image
RULE = ("a generated image counts when its nearest training image is closer to it than to that training "
        "image's own nearest other training image (Alaa et al. 2022)")


@dataclasses.dataclass
class MemorisationOptions:
    shown: int  # generated images in the picture
    samples: int  # generated images the rate is measured on (and held-out real images, at most as many)
    picture: Path  # where the PNG goes
    batch_size: int = 100
    training_images: int = 0  # 0: the whole training split


def batches_of(images_batches, extractor, keep: list | None = None, keep_first: int = 0):
    """``{"features": .., "pixels": ..}`` per batch of images; the first ``keep_first`` images are
    also appended to ``keep`` (the pictured ones)."""
    kept = 0
    for images in images_batches:
        images = np.asarray(images, np.float32)
        if keep is not None and kept < keep_first:
            keep.append(images[: keep_first - kept])
            kept += len(keep[-1])
        yield {"features": np.asarray(extractor(images)[0], np.float32), "pixels": images.reshape(len(images), -1)}


def generated_queries(sampler, samples: int, num_classes: int, batch: int, extractor, shown: int):
    """Features and pixels of the first ``samples`` images of ``sampler`` (balanced labels), and the
    first ``shown`` images."""
    from sagan_tf.evaluation.metrics.statistics import balanced_labels

    labels = balanced_labels(samples, num_classes)
    batches = (np.asarray(sampler(start, labels[start : start + batch]), np.float32) for start in range(0, samples, batch))
    parts, images = [], []
    for part in batches_of(batches, extractor, images, shown):
        parts.append(part)
    pictured = np.concatenate(images)
    return {space: np.concatenate([p[space] for p in parts]) for space in SPACES}, pictured


def check(cfg, extractor, sampler, options: MemorisationOptions, heldout_split: str | None, data_dir=None) -> dict:
    """The ``memorisation`` object of the evaluation result; writes the picture."""
    from sagan_tf.evaluation.metrics.statistics import real_images
    from sagan_tf.evaluation.nearest_picture import picture

    data = cfg.data
    shown = min(options.shown, options.samples)
    queries, generated = generated_queries(sampler, options.samples, max(data.num_classes, 0), options.batch_size,
                                           extractor, shown)
    heldout = 0
    if heldout_split and heldout_split != data.split:
        try:
            real = [x for x, _ in real_images(data, heldout_split, options.samples, options.batch_size, data_dir)]
        except Exception as e:  # a dataset without that split: the rate is reported without its baseline
            print(f"warning: no held-out baseline for --nearest (split {heldout_split!r}: {e})", file=sys.stderr)
            real = []
        parts = list(batches_of(real, extractor))
        if parts:
            heldout = sum(len(p["pixels"]) for p in parts)
            queries = {s: np.concatenate([queries[s], *[p[s] for p in parts]]) for s in SPACES}
    stores = {space: VectorStore() for space in SPACES}
    try:
        for batch in batches_of((x for x, _ in real_images(data, data.split, options.training_images,
                                                           options.batch_size, data_dir)), extractor):
            for space in SPACES:
                stores[space].add(batch[space])
        training = {space: stores[space].array() for space in SPACES}
        results = {space: search(queries[space], training[space], NEIGHBOURS) for space in SPACES}
        shape = generated.shape[1:]
        drawn = {}
        for space, r in results.items():
            flags = np.zeros((shown, r.indices.shape[1]), bool)
            flags[:, 0] = r.closer[:shown]
            neighbours = np.asarray(training["pixels"][r.indices[:shown].reshape(-1)]).reshape(shown, -1, *shape)
            drawn[space] = (neighbours, r.distances[:shown], flags)
        count = len(training["pixels"])
    finally:
        for store in stores.values():
            store.close()
    options.picture.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(options.picture, ".png") as tmp:
        picture(generated[:shown], drawn).save(tmp)
    return {
        "rule": RULE,
        "training_split": data.split,
        "training_images": int(count),
        "generated": options.samples,
        "heldout_split": heldout_split if heldout else None,
        "heldout": heldout,
        **{space: summary(results[space], options.samples) for space in SPACES},
        "picture": str(options.picture),
    }
