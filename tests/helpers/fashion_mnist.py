"""The Fashion-MNIST sample the tests read, written into a TFDS data directory.

``tests/assets/fashion_mnist/`` holds the first 1,000 training and 500 test images of Fashion-MNIST
(Xiao, Rasul, Vollgraf 2017; MIT licence) in the dataset's own IDX format. ``prepare`` writes them
as the prepared TFDS dataset ``fashion_mnist`` (version 3.0.1, the registered builder's features and
class names), so ``tfds.load("fashion_mnist", data_dir=...)`` and the trainer read it as they read
the full dataset: no download, no data outside the repository.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from tests.helpers import REPO

ASSETS = REPO / "tests" / "assets" / "fashion_mnist"
SPLITS = {"train": "train", "test": "t10k"}  # TFDS split -> IDX file prefix
VERSION = "3.0.1"


def read_idx(path: Path) -> np.ndarray:
    """A gzipped IDX file (images: magic 2051, labels: 2049) as a uint8 array."""
    data = gzip.decompress(path.read_bytes())
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows, cols)
    if magic == 2049:
        return np.frombuffer(data, np.uint8, offset=8).reshape(count)
    raise ValueError(f"{path} is not an IDX image or label file (magic {magic})")


def split_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels uint8 (N,)) of one split of the sample."""
    prefix = SPLITS[split]
    return read_idx(ASSETS / f"{prefix}-images-idx3-ubyte.gz"), read_idx(ASSETS / f"{prefix}-labels-idx1-ubyte.gz")


def prepare(data_dir: Path) -> Path:
    """Writes ``data_dir/fashion_mnist/3.0.1/`` from the sample; returns ``data_dir``."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    features = tfds.builder("fashion_mnist").info.features  # the registered dataset's own features
    splits = {}
    for split in SPLITS:
        images, labels = split_arrays(split)
        splits[split] = tf.data.Dataset.from_tensor_slices({"image": images[..., None], "label": labels.astype(np.int64)})
    tfds.dataset_builders.store_as_tfds_dataset(
        name="fashion_mnist", version=VERSION, features=features, split_datasets=splits, data_dir=str(data_dir)
    )
    return data_dir
