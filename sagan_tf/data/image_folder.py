"""A folder of images as torchvision's ``ImageFolder`` reads it: the top-level subfolders are the
classes (sorted names -> labels 0..K-1) and every image at any depth below a class folder belongs to
it; hidden files and folders are skipped and links followed without looping (``folder_walk``).
Images directly in the folder, when it has no class subfolder, train unconditionally.
``data.num_classes: auto`` takes the count from the folder (``resolve_classes``: the subfolders, or
0 when there are none).

Every image is decoded as RGB (grayscale, palette, RGBA with its alpha dropped, CMYK JPEG and
16-bit PNG are converted to 8-bit RGB) and then given the configured channel count
(``pipeline.preprocess``), so a folder of mixed formats trains as one.

Listing the folder (``list_folder``) sorts its files into the images training reads and three kinds
of skipped file (``folder_probe``): not images (an image name, no image header), damaged (an image
header, but the body does not decode: every file is decoded once with the decoder training uses,
and what was found is kept while the file is unchanged, ``survey_cache``) and not used (a format
TensorFlow does not decode, by its extension or its header: TIFF, HEIC, an animated WebP).

``list_images`` names the skipped files one line each (the first ``SKIPPED_LINES``) and counts them.
Not images and damaged files stop loading with one line naming them unless ``data.skip_corrupt`` is
true; files in a format that is not used never stop it. A class folder without one image that
decodes stops loading with one line naming it. The training list holds the decodable images only,
so its length is the number of images trained on.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from sagan_tf.config import AUTO_CLASSES, DataConfig
from sagan_tf.data import folder_probe
from sagan_tf.data.folder_probe import (  # noqa: F401  (image_format: also read from here)
    ANIMATED_WEBP,
    DAMAGED,
    FORMATS,
    IMAGE,
    IMAGE_EXTENSIONS,
    NOT_IMAGE,
    NOT_USED,
    UNREAD_EXTENSIONS,
    image_format,
)
from sagan_tf.data.folder_walk import class_directories, walk
from sagan_tf.errors import DataError

SKIPPED_LINES = 20  # skipped files named one per line, then only counted
_REPORTED: set[tuple] = set()  # skipped files already named in this process (a folder is listed more than once)


def formats_text(conjunction: str = "or") -> str:
    return f"{', '.join(FORMATS[:-1])} {conjunction} {FORMATS[-1]}"


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
    modes: dict[str, str] = field(default_factory=dict)  # path -> Pillow's pixel mode (folder_probe.pillow_mode)
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
    """The folder's images and skipped files (each file probed once while it is unchanged:
    ``folder_probe``). Raises ``DataError`` where the folder does not fit ``data.num_classes``; never
    for a skipped file or an empty class (``empty_classes``)."""
    root = folder_root(cfg)
    folder_classes(root)
    found_walk = walk(root)
    class_dirs = found_walk.class_dirs
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
    records = folder_probe.probe_files(root, found_walk.entries())
    for index, entries in enumerate(found_walk.files):
        for entry in entries:
            record = records.get(entry.rel)
            if record is None:  # not an image file by its extension
                continue
            path, kind = os.path.join(root, entry.rel), record[2]
            if kind == IMAGE:
                found.files.append(path)
                found.labels.append(index if conditional else 0)
                found.sizes[path] = (record[3], record[4])
                found.modes[path] = record[6]
            elif kind == NOT_IMAGE:
                found.not_images.append(path)
            else:
                (found.damaged if kind == DAMAGED else found.not_used).append(path)
                found.formats[path] = record[5]
    found.root_images = sum(records.get(e.rel, [0, 0, ""])[2] == IMAGE for e in found_walk.root_files)
    return found


def empty_classes(found: FolderFiles) -> str | None:
    """One line naming the class folders without an image that decodes, or None."""
    if found.class_names is None:
        return None
    empty = [name for name, count in zip(found.class_names, found.counts(), strict=True) if count == 0]
    if not empty:
        return None
    named = ", ".join(str(found.root / name) for name in empty)
    return (f"{len(empty)} class folder(s) without an image that decodes, at any depth: {named}; "
            "add images to them or remove them (G would be asked to draw classes it never saw)")


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
    empty = empty_classes(found)
    if empty:
        raise DataError(empty)
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
