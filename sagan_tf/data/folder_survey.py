"""What a folder of images holds, and whether a config fits it.

``survey`` counts the images of each class (subfolder), the sizes (as TensorFlow decodes them) and
the pixel modes found (Pillow reads each file's header), and the files skipped, each with why: not
an image, damaged (every file is decoded once while it is unchanged, ``folder_probe``), or in a
format that is not used. ``check_fit`` turns a mismatch between the folder and the config into one line: an
error where training would learn from the wrong images (colour photos into ``data.channels: 1``,
images far larger than ``data.resolution`` under ``data.resize: pad``, which keeps only the central
patch), a warning where it can still make sense.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sagan_tf.config import DataConfig
from sagan_tf.data.image_folder import SKIPPED_LINES, FolderFiles, empty_classes, list_folder
from sagan_tf.errors import DataError

# Pillow modes that can hold colour (grayscale: 1, L, LA, I, I;16, F); a palette image ("P") is colour
# when its palette is. Whether such an image really is colour is read from its pixels, for the first
# COLOUR_SAMPLE of them (a photo saved as RGB may be grey).
COLOUR_MODES = {"RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "P (colour)"}
COLOUR_SAMPLE = 16
GREY_TOLERANCE = 8  # largest channel difference (of 255) of a grey pixel after JPEG compression
PAD_LIMIT = 2  # resize: pad on images more than twice the resolution keeps a small central patch


@dataclass
class FolderSurvey:
    listing: FolderFiles  # the folder's images and skipped files (image_folder.list_folder)
    skip_corrupt: bool = True  # data.skip_corrupt: false makes not images and damaged files stop training
    sizes: Counter = field(default_factory=Counter)  # (width, height) -> images
    modes: Counter = field(default_factory=Counter)  # Pillow mode -> images
    colour_checked: int = 0  # images of a colour mode whose pixels were looked at (at most COLOUR_SAMPLE)
    colour_seen: int = 0  # of those, images with colour pixels

    @property
    def root(self) -> Path:
        return self.listing.root

    @property
    def class_names(self) -> list[str] | None:
        """None: the images sit directly in root (unconditional)."""
        return self.listing.class_names

    @property
    def counts(self) -> list[int]:
        """Images per class (one count when unconditional)."""
        return self.listing.counts()

    @property
    def not_images(self) -> list[str]:
        return self.listing.not_images

    @property
    def damaged(self) -> list[str]:
        return self.listing.damaged

    @property
    def not_used(self) -> list[str]:
        return self.listing.not_used

    @property
    def root_images(self) -> int:
        """Images beside the class subfolders (not used)."""
        return self.listing.root_images

    @property
    def images(self) -> int:
        return sum(self.counts)

    @property
    def colour_mode(self) -> int:
        """Images stored in a mode that can hold colour."""
        return sum(n for mode, n in self.modes.items() if mode in COLOUR_MODES)

    def size_range(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """The smallest and the largest (width, height), by area."""
        by_area = sorted(self.sizes, key=lambda wh: wh[0] * wh[1])
        return by_area[0], by_area[-1]

    def longest_side(self) -> tuple[int, int]:
        """The (width, height) with the longest side."""
        return max(self.sizes, key=lambda wh: max(wh))

    def report(self) -> list[str]:
        """Lines for ``sagan-train --dry-run``."""
        lines = [f"images: {self.images} in {self.root}"]
        if self.class_names is None:
            lines.append("classes: none (images directly in the folder: unconditional)")
        else:
            lines.append(f"classes: {len(self.class_names)}")
            lines += [f"  {index:>4}  {name}: {count} images" for index, (name, count) in
                      enumerate(zip(self.class_names, self.counts, strict=True))]
        if self.sizes:
            (w0, h0), (w1, h1) = self.size_range()
            lines.append(f"image sizes: {len(self.sizes)} distinct, from {w0}x{h0} to {w1}x{h1}")
            lines.append("pixel modes: " + ", ".join(f"{mode} {n}" for mode, n in self.modes.most_common()))
        skipped = self.listing.skipped()
        lines.append(f"files skipped: {len(skipped)}")
        lines += [f"  {kind}" for kind in self.listing.kinds()]
        lines += [f"  skipping {path}: {why}" for path, why in skipped[:SKIPPED_LINES]]
        if len(skipped) > SKIPPED_LINES:
            lines.append(f"  ({len(skipped) - SKIPPED_LINES} more not listed)")
        unreadable = len(self.listing.unreadable)
        if unreadable and not self.skip_corrupt:
            lines.append(f"training stops on the {unreadable} unreadable file(s) (data.skip_corrupt: false): "
                         "remove them or set data.skip_corrupt: true")
        if self.root_images:
            lines.append(f"images beside the class subfolders, not used: {self.root_images}")
        return lines


def has_colour_pixels(path: Path) -> bool:
    """Whether an image's pixels (a 64x64 thumbnail of them) differ between its RGB channels."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.thumbnail((64, 64))
            rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    except Exception:
        return False
    return int(np.abs(rgb - rgb[..., :1]).max()) > GREY_TOLERANCE


def survey(cfg: DataConfig) -> FolderSurvey:
    listing = list_folder(cfg)
    result = FolderSurvey(listing, skip_corrupt=cfg.skip_corrupt)
    for path in listing.files:
        mode = listing.modes[path]
        result.sizes[listing.sizes[path]] += 1
        result.modes[mode] += 1
        if mode in COLOUR_MODES and result.colour_checked < COLOUR_SAMPLE:
            result.colour_checked += 1
            result.colour_seen += has_colour_pixels(Path(path))
    return result


def check_fit(cfg: DataConfig, found: FolderSurvey, batch_images: int) -> list[str]:
    """Raises ``DataError`` (one line: what to change) where the config does not fit the folder (a
    class without images included; whether ``batch_images`` fit after ``data.limit`` and
    ``log.heldout`` is ``subset.shortfall``'s); returns warnings where training can still make sense."""
    warnings = []
    if found.class_names is not None and cfg.num_classes > 0 and cfg.num_classes != len(found.class_names):
        raise DataError(
            f"data.num_classes is {cfg.num_classes} but {found.root} has {len(found.class_names)} class subfolders; "
            "set data.num_classes=auto"
        )
    if cfg.channels == 1 and found.colour_seen:
        raise DataError(
            f"{found.root} holds colour images ({found.colour_seen} of the {found.colour_checked} looked at) but "
            "data.channels is 1; set data.channels=3 (or convert the images to grayscale to train in grayscale)"
        )
    if found.sizes:
        w1, h1 = found.longest_side()
        largest = max(w1, h1)
        if cfg.resize == "pad" and largest > PAD_LIMIT * cfg.resolution:
            raise DataError(
                f"images in {found.root} are up to {w1}x{h1} but data.resize is pad, which keeps only the central "
                f"{cfg.resolution}x{cfg.resolution}; set data.resize=area (and data.center_crop=true)"
            )
        if cfg.resize == "pad" and largest > cfg.resolution:
            warnings.append(f"images up to {w1}x{h1} are cut to their central {cfg.resolution}x{cfg.resolution} (data.resize: pad)")
        if not cfg.center_crop and any(w != h for w, h in found.sizes) and cfg.resize != "pad":
            warnings.append("images that are not square are stretched to a square (data.center_crop: false)")
        small = sum(n for (w, h), n in found.sizes.items() if min(w, h) < cfg.resolution)
        if small and cfg.resize != "pad":
            warnings.append(f"{small} images are smaller than {cfg.resolution} pixels on a side and are upscaled")
    empty = empty_classes(found.listing)
    if empty:
        raise DataError(empty)
    if found.root_images:
        warnings.append(f"{found.root_images} images directly in {found.root} are not used: the classes are its subfolders")
    return warnings
