"""Image grids and PNG files for samples and attention pictures; the square grids of attention maps."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from sagan_tf.files import write_bytes


def make_grid(images: np.ndarray, cols: int, pad: int = 2, pad_value: int = 0) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (rows*(H+pad)+pad, cols*(W+pad)+pad, C) uint8 image, row-major."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    rows = -(-n // cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), pad_value, dtype=images.dtype)
    for i in range(n):
        r, k = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[top : top + h, left : left + w] = images[i]
    return grid


def square_grid(n: int) -> tuple[int, int]:
    """(side, side) of a flattened square grid of ``n`` positions (an attention map's queries or keys)."""
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(f"{n} attention positions do not form a square grid")
    return side, side


def png_bytes(image: np.ndarray) -> bytes:
    """An (H, W, 1|3) uint8 image as PNG bytes (greyscale for one channel), lossless."""
    from PIL import Image

    image = np.asarray(image, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Writes an (H, W, 1|3) uint8 image as PNG, atomically (``files.write_bytes``)."""
    path = Path(path)
    data = png_bytes(image)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data)
