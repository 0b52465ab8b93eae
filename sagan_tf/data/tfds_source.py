"""A TensorFlow Datasets source: the prepared dataset, its class names, one line when it is missing.

A dataset that is not prepared in the data directory (``--data-dir``, ``$TFDS_DATA_DIR``, else
TFDS's default) is downloaded and prepared the ordinary TFDS way; where that fails (no network, a
dataset that needs a manual download) loading ends in a ``DataError`` that says what to set.
"""

from __future__ import annotations

import contextlib
import os

import tensorflow as tf

from sagan_tf.config import DataConfig
from sagan_tf.errors import DataError

DOWNLOAD_RETRIES = 2


def tfds_source(cfg: DataConfig, data_dir: str | None, seed: int) -> tuple[tf.data.Dataset, int, list[str] | None]:
    """Unbatched ``(uint8 image, int32 label)`` examples of ``cfg.split`` (files shuffled with ``seed``), their
    count and the label feature's class names."""
    import tensorflow_datasets as tfds

    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR")
    try:
        builder = tfds.builder(cfg.name, data_dir=data_dir)
    except Exception as e:  # DatasetNotFoundError and friends
        raise DataError(f"unknown TFDS dataset {cfg.name!r}: {str(e).splitlines()[0]}") from None
    if not builder.is_prepared():
        try:
            with _few_download_retries():
                builder.download_and_prepare()
        except Exception as e:
            where = data_dir or "the default TFDS directory"
            raise DataError(
                f"TFDS dataset {cfg.name!r} is not prepared in {where} and could not be downloaded "
                f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                "set TFDS_DATA_DIR or pass --data-dir to a directory where it is prepared"
            ) from None
    features = builder.info.features
    if cfg.image_key not in features:
        raise DataError(f"TFDS dataset {cfg.name!r} has no feature {cfg.image_key!r} (has {sorted(features)})")
    label_key = cfg.label_key if cfg.num_classes > 0 else None
    class_names = None
    if label_key:
        if label_key not in features:
            raise DataError(f"TFDS dataset {cfg.name!r} has no feature {label_key!r} (has {sorted(features)})")
        available = getattr(features[label_key], "num_classes", None)
        if available is not None and available != cfg.num_classes:
            raise DataError(
                f"data.num_classes is {cfg.num_classes} but TFDS dataset {cfg.name!r} has {available} classes"
            )
        class_names = list(getattr(features[label_key], "names", []) or []) or None
    try:
        ds = builder.as_dataset(
            split=cfg.split, shuffle_files=True, read_config=tfds.ReadConfig(shuffle_seed=seed)
        )
        num_examples = builder.info.splits[cfg.split].num_examples
    except Exception as e:
        raise DataError(f"cannot read split {cfg.split!r} of TFDS dataset {cfg.name!r}: {str(e).splitlines()[0]}") from None

    def to_pair(example):
        label = tf.cast(example[label_key], tf.int32) if label_key else tf.constant(0, tf.int32)
        return example[cfg.image_key], label

    return ds.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE), num_examples, class_names


@contextlib.contextmanager
def _few_download_retries(retries: int = DOWNLOAD_RETRIES):
    """TFDS retries every HTTP download 10 times with exponential back-off (minutes on a machine
    without network); while preparing a dataset here it retries ``retries`` times, so that an
    offline start fails in seconds and says what to do."""
    from tensorflow_datasets.core.download import downloader

    previous = downloader.MAX_RETRIES
    downloader.MAX_RETRIES = min(previous, retries)
    try:
        yield
    finally:
        downloader.MAX_RETRIES = previous
