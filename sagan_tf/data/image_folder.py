"""A folder of images: one subfolder per class (sorted names -> labels 0..K-1), or the images
directly in it for unconditional training. ``data.num_classes: auto`` takes the count from the folder
(``resolve_classes``: the subfolders, or 0 when there are none).

Every image is decoded as RGB (grayscale, palette, RGBA with its alpha dropped, CMYK JPEG and
16-bit PNG are converted to 8-bit RGB) and then given the configured channel count
(``pipeline.preprocess``), so a folder of mixed formats trains as one.

Listing the folder (``list_folder``) sorts its files into the images training reads and three kinds
of skipped file:

- not images: a file named ``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``, ``.webp`` or ``.jxl``
  whose first bytes are no PNG, JPEG, GIF, BMP, WebP or JPEG XL header (empty, an HTML page saved
  as ``.jpg``);
- damaged: an image header, but the body does not decode (a JPEG cut short, garbage in the middle).
  Every file is decoded once with the decoder training uses (``decode_check``: a parallel
  ``tf.data`` pass; its cost is in docs/data.md), so the count is exact and a damaged file is found
  before anything is written;
- not used: a format TensorFlow does not decode, by its extension (``.tif``, ``.heic``, ``.avif``,
  ... ``UNREAD_EXTENSIONS``) or its header (an animated WebP).

``list_images`` names the skipped files one line each (the first ``SKIPPED_LINES``) and counts them.
Not images and damaged files stop loading with one line naming them unless ``data.skip_corrupt`` is
true; files in a format that is not used never stop it. The training list holds the decodable
images only, so its length is the number of images trained on.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from sagan_tf.config import AUTO_CLASSES, DataConfig
from sagan_tf.errors import DataError

SKIPPED_LINES = 20  # skipped files named one per line, then only counted
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".jxl")
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WebP", "JPEG XL")  # what tf.io.decode_image reads
# Image formats tf.io.decode_image does not read: such files are named and counted, never used.
UNREAD_EXTENSIONS = (".tif", ".tiff", ".heic", ".heif", ".avif", ".jp2", ".j2k", ".jpx", ".ico", ".psd", ".tga",
                     ".ppm", ".pgm", ".pbm", ".pnm", ".dng", ".cr2", ".nef", ".arw", ".raw", ".exr", ".hdr", ".svg")
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"BM", "BMP"),
    (b"\xff\x0a", "JPEG XL"), (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
)
ANIMATED_WEBP = "animated WebP"

# (path, size, mtime) -> (width, height) as decoded, or None: each file is decoded once per process
_DECODED: dict[tuple[str, int, int], tuple[int, int] | None] = {}
_REPORTED: set[tuple] = set()  # skipped files already named in this process (a folder is listed more than once)


def formats_text(conjunction: str = "or") -> str:
    return f"{', '.join(FORMATS[:-1])} {conjunction} {FORMATS[-1]}"


def image_format(path: str) -> str | None:
    """The image format named by the first bytes of ``path`` (``ANIMATED_WEBP`` for an animated WebP),
    or None when they are no header of an image format TensorFlow decodes."""
    try:
        with open(path, "rb") as f:
            head = f.read(21)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        animated = head[12:16] == b"VP8X" and len(head) > 20 and head[20] & 0x02
        return ANIMATED_WEBP if animated else "WebP"
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def class_directories(root: Path) -> list[Path]:
    """The class subfolders of ``root`` in label order (sorted by name)."""
    return sorted(p for p in root.iterdir() if p.is_dir())


def image_files(directory: Path, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> list[Path]:
    """The files of ``directory`` with one of ``extensions`` (any case), sorted by name."""
    return sorted(f for f in directory.iterdir() if f.is_file() and f.suffix.lower() in extensions)


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


def _decode_pass(paths: list[str]) -> dict[str, tuple[int, int]]:
    """(width, height) of each of ``paths`` that decodes as training decodes it; the others are absent."""

    def decode(path):
        shape = tf.shape(tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False))
        return path, shape[1], shape[0]

    ds = tf.data.Dataset.from_tensor_slices(paths)
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).ignore_errors().batch(256)
    return {p.decode(): (int(w), int(h)) for batch in ds.as_numpy_iterator() for p, w, h in zip(*batch, strict=True)}


def decode_check(paths: list[str]) -> dict[str, tuple[int, int] | None]:
    """``path -> (width, height)`` as ``tf.io.decode_image(..., channels=3, expand_animations=False)``
    decodes it, or None when it does not decode (or cannot be read). A file is decoded once per
    process while its size and modification time stay the same."""
    keys = {}
    for path in paths:
        try:
            st = os.stat(path)
            keys[path] = (path, st.st_size, st.st_mtime_ns)
        except OSError:
            keys[path] = None
    todo = [path for path, key in keys.items() if key is not None and key not in _DECODED]
    if todo:
        decoded = _decode_pass(todo)
        for path in todo:
            _DECODED[keys[path]] = decoded.get(path)
    return {path: None if key is None else _DECODED[key] for path, key in keys.items()}


@dataclass
class FolderFiles:
    """A folder's files: the images training reads (decodable, in class order) and the skipped ones."""

    root: Path
    class_names: list[str] | None  # None: unconditional
    files: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (width, height) as decoded
    not_images: list[str] = field(default_factory=list)  # an image name, no image header
    damaged: list[str] = field(default_factory=list)  # an image header, but the image does not decode
    not_used: list[str] = field(default_factory=list)  # a format TensorFlow does not decode
    formats: dict[str, str] = field(default_factory=dict)  # damaged or not used path -> its header's format or extension
    root_images: int = 0  # images beside the class subfolders (not used)

    @property
    def unreadable(self) -> list[str]:
        """The files that stop loading unless ``data.skip_corrupt``: not images and damaged ones."""
        return self.not_images + self.damaged

    def counts(self) -> list[int]:
        """Images per class (one count when unconditional)."""
        if self.class_names is None:
            return [len(self.files)]
        found = Counter(self.labels)
        return [found[index] for index in range(len(self.class_names))]

    def skipped(self) -> list[tuple[str, str]]:
        """``(path, why)`` of every skipped file."""
        out = [(path, f"not a {formats_text()} image") for path in self.not_images]
        for path in self.damaged:
            out.append((path, f"a {self.formats[path]} header, but TensorFlow cannot decode the image (damaged or cut short)"))
        for path in self.not_used:
            kind = "an animated WebP" if self.formats[path] == ANIMATED_WEBP else f"a {self.formats[path]} file"
            out.append((path, f"{kind}, not used (the formats used are {formats_text('and')})"))
        return out

    def kinds(self) -> list[str]:
        """One line per kind of skipped file that the folder has: why, and how many."""
        lines = []
        if self.not_images:
            lines.append(f"not images (no {formats_text()} header): {len(self.not_images)}")
        if self.damaged:
            lines.append(f"damaged (an image header, but TensorFlow cannot decode the image): {len(self.damaged)}")
        if self.not_used:
            found = sorted({self.formats[p] for p in self.not_used})
            lines.append(f"formats TensorFlow does not decode ({', '.join(found)}; used: {', '.join(FORMATS)}): "
                         f"{len(self.not_used)}")
        return lines


def list_folder(cfg: DataConfig) -> FolderFiles:
    """The folder's images and skipped files (every listed file is decoded once: ``decode_check``).
    Raises ``DataError`` where the folder does not fit ``data.num_classes``; never for a skipped file."""
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
    found = FolderFiles(root, [p.name for p in class_dirs] if conditional else None)
    candidates = []
    for index, directory in enumerate(class_dirs or [root]):
        for f in image_files(directory, IMAGE_EXTENSIONS + UNREAD_EXTENSIONS):
            path = str(f)
            if f.suffix.lower() in UNREAD_EXTENSIONS:
                found.not_used.append(path)
                found.formats[path] = f.suffix.lower()
                continue
            kind = image_format(path)
            if kind is None:
                found.not_images.append(path)
            elif kind == ANIMATED_WEBP:
                found.not_used.append(path)
                found.formats[path] = kind
            else:
                candidates.append((path, index if conditional else 0, kind))
    decoded = decode_check([path for path, _, _ in candidates])
    for path, label, kind in candidates:
        if decoded[path] is None:
            found.damaged.append(path)
            found.formats[path] = kind
        else:
            found.files.append(path)
            found.labels.append(label)
            found.sizes[path] = decoded[path]
    if class_dirs:
        found.root_images = len(image_files(root))
    return found


def report_skipped(found: FolderFiles) -> None:
    """One warning line per skipped file (the first ``SKIPPED_LINES``), then one with the counts, on
    stderr, once per process."""
    skipped = found.skipped()
    key = (str(found.root), tuple(skipped))
    if not skipped or key in _REPORTED:
        return
    _REPORTED.add(key)
    for path, why in skipped[:SKIPPED_LINES]:
        print(f"warning: skipping {path}: {why}", file=sys.stderr)
    parts = []
    if found.unreadable:
        kinds = [f"{kind}: {len(paths)}" for kind, paths in (("not images", found.not_images), ("damaged", found.damaged)) if paths]
        parts.append(f"{len(found.unreadable)} unreadable image file(s) ({', '.join(kinds)})")
    if found.not_used:
        parts.append(f"{len(found.not_used)} file(s) in a format that is not used (the formats used are {formats_text('and')})")
    more = f" ({len(skipped) - SKIPPED_LINES} of them not named above)" if len(skipped) > SKIPPED_LINES else ""
    print(f"warning: skipping {' and '.join(parts)} in {found.root}{more}; using the other {len(found.files)} images",
          file=sys.stderr)


def list_images(cfg: DataConfig) -> tuple[list[str], list[int], list[str] | None]:
    """(files, labels, class names or None) of the images that decode; unreadable files rejected or
    skipped per ``cfg`` (``data.skip_corrupt``), files in a format that is not used skipped."""
    found = list_folder(cfg)
    bad = found.unreadable
    if bad and not cfg.skip_corrupt:
        def some(paths: list[str]) -> str:
            return ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")

        parts = []
        if found.not_images:
            parts.append(f"not images: {some(found.not_images)}")
        if found.damaged:
            parts.append(f"cannot decode image(s) {some(found.damaged)}")
        raise DataError(
            f"{len(bad)} file(s) in {found.root} are not readable images ({'; '.join(parts)}); "
            "remove them or set data.skip_corrupt: true"
        )
    report_skipped(found)
    if not found.files:
        raise DataError(f"image folder {found.root} has no readable images ({', '.join(IMAGE_EXTENSIONS)})")
    return found.files, found.labels, found.class_names


def folder_dataset(cfg: DataConfig, seed: int) -> tuple[tf.data.Dataset, int, list[str] | None]:
    """Unbatched (uint8 image, int32 label) of every image that decodes, files shuffled once with ``seed``."""
    files, labels, class_names = list_images(cfg)
    ds = tf.data.Dataset.from_tensor_slices((files, tf.constant(labels, tf.int32)))
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=False)

    def decode(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return image, label

    return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE), len(files), class_names


def find_undecodable(cfg: DataConfig, limit: int = 3) -> list[str]:
    """Files of the folder that are not images or do not decode as they are now (at most ``limit``),
    for the error message of a decode failure during training."""
    return list_folder(cfg).unreadable[:limit]
