"""Attention-map pictures as in SAGAN Figures 1 and 5: where does a query location look?

For an attention layer with a query grid of ``Hq x Wq`` positions and a key grid of ``Hk x Wk``
positions (``paper`` variant: the same grid; ``pooled`` variant: keys 2x2 max-pooled, N_key = N/4),
the layer returns beta (B, N_query, N_key), each row a softmax over the keys (paper eq. 1). For a
query point (x, y) in image pixels, its row of beta is reshaped to the key grid and upsampled to the
image size by pixel repetition (each key cell covers ``image / key grid`` pixels), so the picture
shows the layer's numbers, not an interpolation of them.

A picture has one row per generated image: the image with the query points marked, then one
panel per query point: the map (colour, scaled so each panel's maximum is the top colour) blended
over the grey image, with that query point marked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from sagan_tf.images import square_grid

# A perceptually ordered dark-blue -> teal -> yellow ramp (anchors of the "viridis" colour map).
_RAMP = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float64
)
QUERY_COLOURS = np.array([[255, 64, 64], [64, 160, 255], [255, 160, 0], [220, 60, 220], [0, 220, 120]], np.uint8)


def default_query_points(size: int, count: int = 4) -> list[tuple[int, int]]:
    """``count`` spread (x, y) pixel positions: corners of the central square, then its centre."""
    lo, hi, mid = size // 4, size - 1 - size // 4, size // 2
    points = [(lo, lo), (hi, lo), (lo, hi), (hi, hi), (mid, mid)]
    if not 1 <= count <= len(points):
        raise ValueError(f"between 1 and {len(points)} default query points, got {count}")
    return points[:count]


def query_index(point: tuple[int, int], image_size: int, query_grid: tuple[int, int]) -> int:
    """Row of beta for the query cell that contains the pixel ``point`` = (x, y)."""
    x, y = point
    if not (0 <= x < image_size and 0 <= y < image_size):
        raise ValueError(f"query point {point} is outside the {image_size}x{image_size} image")
    hq, wq = query_grid
    return (y * hq // image_size) * wq + (x * wq // image_size)


def key_map_to_image(row: np.ndarray, image_size: int) -> np.ndarray:
    """One query's attention over the key grid (N_key,) -> (image_size, image_size) by repetition."""
    hk, wk = square_grid(row.shape[0])
    if image_size % hk or image_size % wk:
        raise ValueError(f"image size {image_size} is not a multiple of the {hk}x{wk} key grid")
    grid = row.reshape(hk, wk)
    return np.repeat(np.repeat(grid, image_size // hk, axis=0), image_size // wk, axis=1)


@dataclasses.dataclass
class AttentionMaps:
    """Per image b and query q: ``maps[b, q]`` (image_size, image_size), the layer's beta row."""

    images: np.ndarray  # (B, S, S, C) uint8
    points: list[tuple[int, int]]
    maps: np.ndarray  # (B, Q, S, S) float
    query_rows: list[int]  # the row of beta used for each point
    layer: str


def attention_maps(images: np.ndarray, beta: np.ndarray, points: Sequence[tuple[int, int]], layer: str = "") -> AttentionMaps:
    """Selects and upsamples the rows of ``beta`` (B, N_query, N_key) for ``points`` of ``images``."""
    images = np.asarray(images)
    beta = np.asarray(beta, dtype=np.float64)
    size = images.shape[1]
    query_grid = square_grid(beta.shape[1])
    rows = [query_index(p, size, query_grid) for p in points]
    maps = np.stack([np.stack([key_map_to_image(beta[b, r], size) for r in rows]) for b in range(beta.shape[0])])
    return AttentionMaps(images, list(points), maps, rows, layer)


def colorize(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (any shape) -> uint8 RGB on the ramp (0: dark blue, 1: yellow)."""
    v = np.clip(np.asarray(values, np.float64), 0.0, 1.0) * (len(_RAMP) - 1)
    low = np.minimum(np.floor(v).astype(int), len(_RAMP) - 2)
    frac = (v - low)[..., None]
    return np.round(_RAMP[low] * (1 - frac) + _RAMP[low + 1] * frac).astype(np.uint8)


def overlay(image: np.ndarray, attention: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """The map (scaled to its maximum) coloured and blended over the grey image: (S, S, 3) uint8."""
    grey = image.astype(np.float64).mean(axis=-1, keepdims=True)
    peak = attention.max()
    heat = colorize(attention / peak if peak > 0 else attention).astype(np.float64)
    return np.round(alpha * heat + (1 - alpha) * grey).astype(np.uint8)


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """(S, S, C) -> (S * scale, S * scale, C) by pixel repetition."""
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def overlay_panel(
    image: np.ndarray, attention: np.ndarray, point: tuple[int, int] | None = None, scale: int = 4,
    colour: np.ndarray = QUERY_COLOURS[0],
) -> np.ndarray:
    """One attention panel of ``render``: ``overlay`` enlarged by ``scale``, ``point`` marked in ``colour``."""
    panel = enlarge(overlay(image, attention), scale)
    if point is not None:
        _mark(panel, point, colour, scale)
    return panel


def _mark(panel: np.ndarray, point: tuple[int, int], colour: np.ndarray, scale: int) -> None:
    """A small filled square of ``colour`` at ``point`` (in unscaled pixels), in place."""
    x, y = point
    half = max(scale // 2, 1)
    cy, cx = y * scale + scale // 2, x * scale + scale // 2
    panel[max(cy - half, 0) : cy + half + 1, max(cx - half, 0) : cx + half + 1] = colour


def panel_box(row: int, col: int, size: int, scale: int, pad: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of a panel in the picture."""
    side = size * scale
    top, left = pad + row * (side + pad), pad + col * (side + pad)
    return top, left, top + side, left + side


def render(result: AttentionMaps, scale: int = 4, pad: int = 4, mark: bool = True) -> np.ndarray:
    """The picture (rows: images; columns: image with points, then one overlay per point), uint8 RGB."""
    batch, size = result.images.shape[0], result.images.shape[1]
    cols = 1 + len(result.points)
    side = size * scale
    picture = np.full((pad + batch * (side + pad), pad + cols * (side + pad), 3), 255, np.uint8)

    for b in range(batch):
        image = result.images[b]
        panels = [enlarge(np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image, scale)]
        for q, point in enumerate(result.points):
            colour = QUERY_COLOURS[q % len(QUERY_COLOURS)]
            if mark:
                _mark(panels[0], point, colour, scale)
            panels.append(overlay_panel(image, result.maps[b, q], point if mark else None, scale, colour))
        for col, panel in enumerate(panels):
            top, left, bottom, right = panel_box(b, col, size, scale, pad)
            picture[top:bottom, left:right] = panel
    return picture
