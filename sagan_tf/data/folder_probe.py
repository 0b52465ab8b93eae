"""What each file of a folder is: an image training reads, or a file skipped and why.

``probe_files`` gives, for each file found by the walk (``folder_walk``), one record
``[size, mtime_ns, kind, width, height, format, mode]``:

- ``kind``: ``image`` (decodes as training decodes it), ``not_image`` (an image extension, but the
  first bytes are no PNG, JPEG, GIF, BMP, WebP or JPEG XL header), ``damaged`` (an image header, but
  ``tf.io.decode_image`` fails: a JPEG cut short, garbage in the middle) or ``not_used`` (a format
  TensorFlow does not decode, by extension or header: TIFF, HEIC, an animated WebP);
- ``width``, ``height``: as decoded (images only), ``format``: the header's format or the extension;
- ``mode``: Pillow's pixel mode (``P (colour)``: a palette with colours; ``unknown``: Pillow cannot
  read it, e.g. JPEG XL), for the survey's colour check.

Decoding is the cost of a start (a parallel ``tf.data`` pass over the files, ``_decode_pass``; its
cost per 1000 images is in docs/data.md), so records are kept on disk (``survey_cache``) and in
this process, and a file is decoded again only when its size or modification time changed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sagan_tf.data import survey_cache
from sagan_tf.data.folder_walk import Entry

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
IMAGE, NOT_IMAGE, DAMAGED, NOT_USED = "image", "not_image", "damaged", "not_used"

_MEMO: dict[str, dict[str, list]] = {}  # resolved folder -> its records, read or made in this process
_SAID: set[str] = set()  # folders whose cache use was said in this process


def is_candidate(rel: str) -> bool:
    """Whether a file's extension makes it an image file (used or skipped with a reason)."""
    return Path(rel).suffix.lower() in IMAGE_EXTENSIONS + UNREAD_EXTENSIONS


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


def pillow_mode(path: str) -> str:
    """Pillow's pixel mode of an image ("P (colour)": a palette with colours; "unknown": Pillow cannot
    read the file, e.g. JPEG XL). Reads the header only."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode = image.mode
            if mode == "P":
                palette = image.getpalette() or []
                grey = all(r == g == b for r, g, b in zip(palette[0::3], palette[1::3], palette[2::3], strict=False))
                mode = "P" if grey else "P (colour)"
            return mode
    except Exception:
        return "unknown"


def _decode_pass(paths: list[str]) -> dict[str, tuple[int, int]]:
    """(width, height) of each of ``paths`` that decodes as training decodes it; the others are absent."""
    import tensorflow as tf

    def decode(path):
        shape = tf.shape(tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False))
        return path, shape[1], shape[0]

    ds = tf.data.Dataset.from_tensor_slices(paths)
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).ignore_errors().batch(256)
    return {p.decode(): (int(w), int(h)) for batch in ds.as_numpy_iterator() for p, w, h in zip(*batch, strict=True)}


def _probe_header(path: str, entry: Entry) -> list | None:
    """The record of a file that needs no decoding (not an image, not used), or None."""
    suffix = Path(path).suffix.lower()
    if suffix in UNREAD_EXTENSIONS:
        return [entry.size, entry.mtime_ns, NOT_USED, 0, 0, suffix, ""]
    kind = image_format(path)
    if kind is None:
        return [entry.size, entry.mtime_ns, NOT_IMAGE, 0, 0, "", ""]
    if kind == ANIMATED_WEBP:
        return [entry.size, entry.mtime_ns, NOT_USED, 0, 0, kind, ""]
    return None


def stored_records(root: Path) -> dict[str, list]:
    """The records known for ``root``: this process's, else the survey cache's."""
    key = str(Path(root).resolve())
    if key not in _MEMO:
        _MEMO[key] = survey_cache.load(root)
    return _MEMO[key]


def forget(root: Path) -> None:
    """Drops this process's records of ``root``: the next look reads the survey cache again."""
    _MEMO.pop(str(Path(root).resolve()), None)


def covered(root: Path, entries: list[Entry]) -> bool:
    """Whether the stored records cover every candidate file as it is now (no decoding needed)."""
    known = stored_records(root)
    return all((r := known.get(e.rel)) is not None and r[:2] == [e.size, e.mtime_ns]
               for e in entries if is_candidate(e.rel))


def probe_files(root: Path, entries: list[Entry]) -> dict[str, list]:
    """``rel -> record`` of every candidate file in ``entries`` (see the module docstring); files
    whose record is stored are not read again, the others are probed (decoded) and the survey
    cache is rewritten when anything changed."""
    key = str(Path(root).resolve())
    known = stored_records(root)
    records, todo, reused = {}, {}, 0
    for e in entries:
        if not is_candidate(e.rel):
            continue
        stored = known.get(e.rel)
        if stored is not None and stored[:2] == [e.size, e.mtime_ns]:
            records[e.rel] = stored
            reused += 1
            continue
        path = os.path.join(root, e.rel)
        record = _probe_header(path, e)
        if record is None:
            todo[path] = (e, image_format(path))
        else:
            records[e.rel] = record
    if todo:
        decoded = _decode_pass(list(todo))
        for path, (e, kind) in todo.items():
            size = decoded.get(path)
            if size is None:
                records[e.rel] = [e.size, e.mtime_ns, DAMAGED, 0, 0, kind, ""]
            else:
                records[e.rel] = [e.size, e.mtime_ns, IMAGE, size[0], size[1], kind, pillow_mode(path)]
    if reused and key not in _SAID:
        _SAID.add(key)
        print(f"folder survey: {reused} of {len(records)} files as recorded in {survey_cache.cache_path(root)}",
              file=sys.stderr)
    if records != known:
        _MEMO[key] = records
        survey_cache.save(root, records)
    return records
