"""A folder with good images and files training skips: two damaged JPEGs (cut to half; garbage in the
middle of the compressed pixels) and three files in formats TensorFlow does not decode (TIFF, HEIC,
an animated WebP)."""

from pathlib import Path

import numpy as np
from PIL import Image

# An 8x6 RGB JPEG XL (lossless, from libjxl): pixel (y, x) = (30 x, 40 y, 15 (x + y)). Pillow cannot
# write JPEG XL; TensorFlow decodes it.
JXL_8X6 = bytes.fromhex(
    "ff0a283010090804010038034b2833dd3c0b1a85dbbf0a0a4a4a4421c23546474444c7186354b18031062f8c118c7285d0b0a0e21c"
    "839523a2a32f102f807749d60279dbc8f4e81d9b9a7cc7deb1a2b3237bf799ccdeb1639e367bc7ded962b3237bc754c4deb177f279"
    "f4e8514f8a1b9a4841ee21b02222983c111af112a58de88550856e027d8448fc0e4203f26bf532f41114179a083d283418ea0b58b3"
    "0fa4611e0b632bda51da2567409575902a5b82d3f0e5d6adbea93db975b7ef463499f67621f0d1e481d7e5ce4d2ce61e4620633a31"
    "316680c97100"
)


def jxl_pixels() -> np.ndarray:
    y, x = np.mgrid[0:6, 0:8]
    return np.stack([x * 30, y * 40, (x + y) * 15], axis=2).astype(np.uint8)


def noise(rng, w, h):
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def write_folder_with_skipped_files(root: Path, seed: int = 0) -> dict[str, list[str]]:
    """cats: a.png, b.jpg (good), cut.jpg (damaged), phone.heic (not used); dogs: c.png, d.webp (good),
    garbage.jpg (damaged), anim.webp, scan.tif (not used). Returns the paths of each kind, in the order
    the folder lists them."""
    rng = np.random.default_rng(seed)
    cats, dogs = root / "cats", root / "dogs"
    cats.mkdir(parents=True)
    dogs.mkdir(parents=True)
    noise(rng, 32, 32).save(cats / "a.png")
    noise(rng, 32, 32).save(cats / "b.jpg", quality=90)
    noise(rng, 40, 32).save(dogs / "c.png")
    noise(rng, 36, 36).save(dogs / "d.webp", lossless=True)

    jpeg = (cats / "b.jpg").read_bytes()
    (cats / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    scan = jpeg.index(b"\xff\xda")  # start of the compressed pixels
    middle = (scan + len(jpeg)) // 2
    (dogs / "garbage.jpg").write_bytes(jpeg[:middle] + b"\xff" * 64 + jpeg[middle + 64:])

    (cats / "phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    noise(rng, 24, 24).save(dogs / "scan.tif")
    frames = [noise(rng, 20, 20) for _ in range(2)]
    frames[0].save(dogs / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
    return {
        "good": [str(cats / "a.png"), str(cats / "b.jpg"), str(dogs / "c.png"), str(dogs / "d.webp")],
        "damaged": [str(cats / "cut.jpg"), str(dogs / "garbage.jpg")],
        "not_used": [str(cats / "phone.heic"), str(dogs / "anim.webp"), str(dogs / "scan.tif")],
    }
