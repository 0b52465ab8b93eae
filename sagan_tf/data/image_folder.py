"""A folder of images: one subfolder per class (sorted names -> labels 0..K-1), or the images
directly in it for unconditional training. ``data.num_classes: auto`` takes the count from the folder
(``resolve_classes``: the subfolders, or 0 when there are none).

Every image is decoded as RGB (grayscale, palette, RGBA with its alpha dropped, CMYK JPEG and
16-bit PNG are converted to 8-bit RGB) and then given the configured channel count
(``pipeline.preprocess``), so a folder of mixed formats trains as one.

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

from sagan_tf.config import AUTO_CLASSES, DataConfig
from sagan_tf.errors import DataError

SKIPPED_LINES = 20  # skipped files named one per line, then only counted
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


def image_files(directory: Path) -> list[Path]:
    """The files of ``directory`` with an image extension, sorted by name."""
    return sorted(f for f in directory.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)


def folder_root(cfg: DataConfig) -> Path:
    if not cfg.path:
        raise DataError("data.path is not set: name the folder of images with --set data.path=DIR")
    return Path(cfg.path)


def folder_classes(root: Path) -> list[Path]:
    """The class subfolders of ``root`` (none: the images in ``root`` are one unconditional set)."""
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    return class_directories(root)


def resolve_classes(cfg: DataConfig) -> None:
    """``num_classes: auto`` -> the number of class subfolders (0: images directly in the folder), and
    ``class_names`` -> the subfolders' names when the classes are subfolders and none were given.
    Nothing changes for other sources (TFDS datasets know their classes)."""
    if cfg.source != "folder":
        return
    class_dirs = folder_classes(folder_root(cfg))
    if cfg.num_classes == AUTO_CLASSES:
        cfg.num_classes = len(class_dirs)
    if cfg.class_names is None and class_dirs and cfg.num_classes == len(class_dirs):
        cfg.class_names = [p.name for p in class_dirs]


def list_images(cfg: DataConfig) -> tuple[list[str], list[int], list[str] | None]:
    """(files, labels, class names or None), with unreadable files rejected or skipped per ``cfg``."""
    root = folder_root(cfg)
    class_dirs = folder_classes(root)
    if class_dirs and cfg.num_classes not in (0, AUTO_CLASSES) and len(class_dirs) != cfg.num_classes:
        raise DataError(
            f"data.num_classes is {cfg.num_classes} but {root} has {len(class_dirs)} class subfolders; "
            "set data.num_classes=auto"
        )
    if not class_dirs and cfg.num_classes > 0:
        raise DataError(
            f"data.num_classes is {cfg.num_classes} but {root} has no class subfolders (expected {root}/<class>/<image>); "
            "set data.num_classes=0 to train unconditionally on the images in it"
        )
    conditional = bool(class_dirs) and cfg.num_classes != 0
    files, labels, bad = [], [], []
    for index, directory in enumerate(class_dirs or [root]):
        for f in image_files(directory):
            if not has_image_header(str(f)):
                bad.append(str(f))
                continue
            files.append(str(f))
            labels.append(index if conditional else 0)
    if bad and not cfg.skip_corrupt:
        raise DataError(
            f"{len(bad)} file(s) in {root} are not readable images ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}); remove them or set data.skip_corrupt: true"
        )
    for path in bad[:SKIPPED_LINES]:
        print(f"warning: skipping {path}: not a PNG, JPEG, GIF or BMP image", file=sys.stderr)
    if bad:
        more = f" ({len(bad) - SKIPPED_LINES} not listed)" if len(bad) > SKIPPED_LINES else ""
        print(f"warning: skipping {len(bad)} unreadable image file(s) in {root}{more}", file=sys.stderr)
    if not files:
        raise DataError(f"image folder {root} has no readable images ({', '.join(IMAGE_EXTENSIONS)})")
    return files, labels, [p.name for p in class_dirs] if conditional else None


def folder_dataset(cfg: DataConfig, seed: int) -> tuple[tf.data.Dataset, int, list[str] | None]:
    """Unbatched (uint8 image, int32 label), files shuffled once with ``seed``."""
    files, labels, class_names = list_images(cfg)
    ds = tf.data.Dataset.from_tensor_slices((files, tf.constant(labels, tf.int32)))
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=False)

    def decode(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
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
            tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        except tf.errors.InvalidArgumentError:
            bad.append(path)
            if len(bad) >= limit:
                break
    return bad
