"""A folder of images with one subfolder per class (sorted names -> labels 0..K-1).

Unreadable files: every file's first bytes are checked when the folder is listed (cheap: no
decoding). Files that are not PNG, JPEG, GIF or BMP (empty, truncated to nothing, an HTML page
saved as .jpg, ...) make loading fail with one line naming them, or, with
``data.skip_corrupt: true``, are skipped with a count printed once. A file with a valid header but a
damaged body fails when it is decoded; ``find_undecodable`` then names it (or, with
``skip_corrupt``, the pipeline drops it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import tensorflow as tf

from sagan_tf.config import DataConfig
from sagan_tf.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def has_image_header(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return any(head.startswith(magic) for magic in _MAGIC)


def class_directories(root: Path) -> list[Path]:
    """The class subfolders of ``root`` in label order (sorted by name)."""
    return sorted(p for p in root.iterdir() if p.is_dir())


def list_images(cfg: DataConfig) -> tuple[list[str], list[int], list[str]]:
    """(files, labels, class names), with unreadable files rejected or skipped per ``cfg``."""
    root = Path(cfg.path)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    class_dirs = class_directories(root)
    if not class_dirs:
        raise DataError(f"image folder {root} has no class subfolders (expected {root}/<class>/<image>)")
    if cfg.num_classes > 0 and len(class_dirs) != cfg.num_classes:
        raise DataError(f"data.num_classes is {cfg.num_classes} but {root} has {len(class_dirs)} class subfolders")
    files, labels, bad = [], [], []
    for index, class_dir in enumerate(class_dirs):
        for f in sorted(class_dir.iterdir()):
            if f.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            if not has_image_header(str(f)):
                bad.append(str(f))
                continue
            files.append(str(f))
            labels.append(index if cfg.num_classes > 0 else 0)
    if bad and not cfg.skip_corrupt:
        raise DataError(
            f"{len(bad)} file(s) in {root} are not readable images ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}); remove them or set data.skip_corrupt: true"
        )
    if bad:
        print(f"warning: skipping {len(bad)} unreadable image file(s) in {root}", file=sys.stderr)
    if not files:
        raise DataError(f"image folder {root} has no readable images ({', '.join(IMAGE_EXTENSIONS)})")
    return files, labels, [p.name for p in class_dirs]


def folder_dataset(cfg: DataConfig, seed: int) -> tuple[tf.data.Dataset, int, list[str]]:
    """Unbatched (uint8 image, int32 label), files shuffled once with ``seed``."""
    files, labels, class_names = list_images(cfg)
    ds = tf.data.Dataset.from_tensor_slices((files, tf.constant(labels, tf.int32)))
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=False)

    def decode(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=cfg.channels, expand_animations=False)
        return image, label

    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    if cfg.skip_corrupt:
        ds = ds.ignore_errors()
    return ds, len(files), class_names


def find_undecodable(cfg: DataConfig, limit: int = 3) -> list[str]:
    """Files of the folder that TensorFlow cannot decode (at most ``limit``), for error messages."""
    files, _, _ = list_images(cfg)
    bad = []
    for path in files:
        try:
            tf.io.decode_image(tf.io.read_file(path), channels=cfg.channels, expand_animations=False)
        except tf.errors.InvalidArgumentError:
            bad.append(path)
            if len(bad) >= limit:
                break
    return bad
