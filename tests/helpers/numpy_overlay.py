"""Attention pictures (SAGAN Figures 1 and 5) computed pixel by pixel from their description, as a
reference for ``sagan_tf.evaluation.attention_maps`` and everything that draws with it.

What a picture is:

* **Colour ramp**: a value v in [0, 1] (clipped) lies on the viridis colour map given by five
  anchors at v = 0, 1/4, 1/2, 3/4, 1 (dark blue, blue, teal, green, yellow); between two anchors
  the colour is their linear interpolation, each channel rounded to the nearest integer (ties to
  even).
* **Map of a query point** (x, y) of an S x S image: the row of beta (N_query, N_key) of the query
  cell that holds the pixel (the query grid is square: cell (y q // S, x q // S) of a q x q grid),
  its N_key values laid out on the square key grid, each key cell repeated over the S / k x S / k
  pixels it covers.
* **Overlay**: the map divided by its maximum (left as it is when the maximum is not positive) is
  coloured, and each pixel is alpha * colour + (1 - alpha) * grey, grey the mean of the image's
  channels at that pixel, rounded to the nearest integer; alpha = 0.6.
* **Panel**: the overlay enlarged ``scale`` times by pixel repetition; with a query point, a filled
  square of the point's colour over it: the pixels within ``max(scale // 2, 1)`` (in both
  directions) of the centre pixel ``(y scale + scale // 2, x scale + scale // 2)`` of the point's
  enlarged pixel, inside the panel.
* **Picture**: on white, ``pad`` pixels around and between panels, one row per image: the image
  (grey repeated to RGB) enlarged, with every query point marked in its colour (one colour per
  point, in the order below, starting over after five; later marks drawn over earlier ones), then
  one panel per query point, marked in the same colour.

No function of the package is called here.
"""

from __future__ import annotations

import math

import numpy as np

VIRIDIS_ANCHORS = np.array(  # viridis at 0, 0.25, 0.5, 0.75, 1: #440154 #3b528b #21918c #5ec962 #fde725
    [[0x44, 0x01, 0x54], [0x3B, 0x52, 0x8B], [0x21, 0x91, 0x8C], [0x5E, 0xC9, 0x62], [0xFD, 0xE7, 0x25]], np.float64
)
QUERY_COLOURS = [(255, 64, 64), (64, 160, 255), (255, 160, 0), (220, 60, 220), (0, 220, 120)]  # red, blue, orange, magenta, green
ALPHA = 0.6


def ramp_colour(value: float) -> tuple[int, int, int]:
    """The colour of one value."""
    v = min(max(float(value), 0.0), 1.0)
    position = 4.0 * v
    low = min(int(math.floor(position)), 3)
    t = position - low
    mixed = (1.0 - t) * VIRIDIS_ANCHORS[low] + t * VIRIDIS_ANCHORS[low + 1]
    return tuple(int(np.rint(c)) for c in mixed)


def colour_ramp(values: np.ndarray) -> np.ndarray:
    """Values of any shape -> uint8 colours (..., 3), one ``ramp_colour`` per value."""
    values = np.asarray(values, np.float64)
    out = np.empty(values.shape + (3,), np.uint8)
    for index in np.ndindex(values.shape):
        out[index] = ramp_colour(values[index])
    return out


def query_map(beta: np.ndarray, point: tuple[int, int], image_size: int) -> np.ndarray:
    """The map of query pixel ``point`` = (x, y): (image_size, image_size) float64, from one image's
    beta (N_query, N_key)."""
    beta = np.asarray(beta, np.float64)
    q, k = math.isqrt(beta.shape[0]), math.isqrt(beta.shape[1])
    assert q * q == beta.shape[0] and k * k == beta.shape[1], beta.shape
    x, y = point
    row = beta[(y * q // image_size) * q + x * q // image_size]
    cell = image_size // k
    out = np.empty((image_size, image_size))
    for i in range(image_size):
        for j in range(image_size):
            out[i, j] = row[(i // cell) * k + j // cell]
    return out


def blend(image: np.ndarray, attention: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """The overlay of ``attention`` (S, S) over ``image`` (S, S, C): (S, S, 3) uint8."""
    image = np.asarray(image, np.float64)
    attention = np.asarray(attention, np.float64)
    peak = attention.max()
    scaled = attention / peak if peak > 0 else attention
    out = np.empty(attention.shape + (3,), np.uint8)
    for i, j in np.ndindex(attention.shape):
        grey = sum(image[i, j]) / image.shape[-1]
        colour = ramp_colour(scaled[i, j])
        out[i, j] = [int(np.rint(alpha * c + (1.0 - alpha) * grey)) for c in colour]
    return out


def enlarged(image: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel as a scale x scale block."""
    image = np.asarray(image)
    out = np.empty((image.shape[0] * scale, image.shape[1] * scale) + image.shape[2:], image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = image[i // scale, j // scale]
    return out


def mark(panel: np.ndarray, point: tuple[int, int], colour, scale: int) -> np.ndarray:
    """A copy of ``panel`` with the square marker of ``point`` in ``colour``."""
    panel = panel.copy()
    x, y = point
    half = max(scale // 2, 1)
    centre_row, centre_col = y * scale + scale // 2, x * scale + scale // 2
    for i in range(panel.shape[0]):
        for j in range(panel.shape[1]):
            if abs(i - centre_row) <= half and abs(j - centre_col) <= half:
                panel[i, j] = colour
    return panel


def panel(image: np.ndarray, attention: np.ndarray, point: tuple[int, int] | None = None, scale: int = 4,
          colour=QUERY_COLOURS[0]) -> np.ndarray:
    """One attention panel: the overlay enlarged, ``point`` (if any) marked in ``colour``."""
    out = enlarged(blend(image, attention), scale)
    return out if point is None else mark(out, point, colour, scale)


def beta_panel(image: np.ndarray, beta: np.ndarray, point: tuple[int, int], scale: int = 4, mark_point: bool = True) -> np.ndarray:
    """The panel ``sagan-visualize attention`` draws for query pixel ``point`` = (x, y) of ``image``
    (S, S, C) uint8, from that image's beta (N_query, N_key): (S scale, S scale, 3) uint8, the
    point marked in the first query colour."""
    attention = query_map(beta, point, np.asarray(image).shape[0])
    return panel(image, attention, point if mark_point else None, scale, QUERY_COLOURS[0])


def picture(images: np.ndarray, beta: np.ndarray, points: list[tuple[int, int]], scale: int = 4, pad: int = 4,
            mark_points: bool = True) -> np.ndarray:
    """The whole picture for ``images`` (B, S, S, C) uint8, their beta (B, N_query, N_key) and the
    query ``points``: rows of (image, one panel per point), uint8 RGB."""
    images = np.asarray(images)
    batch, size = images.shape[0], images.shape[1]
    side = size * scale
    out = np.full((pad + batch * (side + pad), pad + (1 + len(points)) * (side + pad), 3), 255, np.uint8)
    for b in range(batch):
        rgb = images[b] if images.shape[-1] == 3 else np.concatenate([images[b]] * 3, axis=-1)
        panels = [enlarged(rgb, scale)]
        for q, point in enumerate(points):
            colour = QUERY_COLOURS[q % len(QUERY_COLOURS)]
            if mark_points:
                panels[0] = mark(panels[0], point, colour, scale)
            panels.append(panel(images[b], query_map(beta[b], point, size), point if mark_points else None, scale, colour))
        for col, p in enumerate(panels):
            top, left = pad + b * (side + pad), pad + col * (side + pad)
            out[top : top + side, left : left + side] = p
    return out
