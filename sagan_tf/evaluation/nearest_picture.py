"""The picture of the memorisation check: each generated image beside its nearest training images.

One row per generated image: the image, then its ``k`` nearest training images in the feature space,
then its ``k`` nearest in pixels, each with its distance written under it; a distance smaller than
that training image's own nearest-neighbour distance (a possible copy, ``nearest`` module) is
marked with ``*`` and framed in red.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

TILE = 64  # pixels of each image in the picture (nearest-neighbour upscaling)
CAPTION = 14  # pixels of text under each tile
GAP = 8  # pixels between the three groups of a row
HEADER = 18


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An image in [-1, 1] (H, W, C) as uint8 RGB (grayscale repeated)."""
    x = np.clip(np.rint((np.asarray(image, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x[..., :3]


def tile(image: np.ndarray) -> Image.Image:
    return Image.fromarray(to_uint8(image)).resize((TILE, TILE), Image.NEAREST)


def picture(generated: np.ndarray, spaces: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Image.Image:
    """``generated`` (n, H, W, C) in [-1, 1]; ``spaces``: ``{name: (neighbour images (n, k, H, W, C),
    distances (n, k), copy flags (n, k))}`` in the order they are drawn."""
    n = len(generated)
    ks = [images.shape[1] for images, _, _ in spaces.values()]
    width = TILE + sum(GAP + k * TILE for k in ks)
    canvas = Image.new("RGB", (width, HEADER + n * (TILE + CAPTION)), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    draw.text((2, 2), "generated", fill="black", font=font)
    x = TILE + GAP
    for name, k in zip(spaces, ks, strict=True):
        draw.text((x + 2, 2), f"nearest in {name}", fill="black", font=font)
        x += k * TILE + GAP
    for row in range(n):
        y = HEADER + row * (TILE + CAPTION)
        canvas.paste(tile(generated[row]), (0, y))
        x = TILE + GAP
        for images, distances, copies in spaces.values():
            for j in range(images.shape[1]):
                canvas.paste(tile(images[row, j]), (x, y))
                mark = "*" if copies[row, j] else ""
                if copies[row, j]:
                    draw.rectangle([x, y, x + TILE - 1, y + TILE - 1], outline="red", width=2)
                draw.text((x + 2, y + TILE), f"{distances[row, j]:.3g}{mark}", fill="black", font=font)
                x += TILE
            x += GAP
    return canvas
