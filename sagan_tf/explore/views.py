"""What the page shows, computed from a ``TrainedGenerator``: grids, interpolations, attention.

An image of the page is an ``ImageSpec``: the point t in [0, 1] on the way from (seed, label) to
(seed_b, label_b), at a truncation. Its z interpolates the two seeds' z (``generate_truncated``'s,
so t = 0 is exactly the seed's z), spherically by default (White 2016, "Sampling generative
networks": the path keeps the norm of a Gaussian z, where a straight line passes through the
unlikely centre) or linearly; its class weights are (1 - t) e_label + t e_label_b, a mixture of
the two classes' conditional batch norm rows. With t = 0 (the default) it is the image of
(seed, label), the same pixels as the grid shows.

Attention (paper eq. 1, Figures 1 and 5): for a query pixel (x, y), each attention layer's row of
beta for the query cell holding that pixel, over the layer's key grid, drawn by
``evaluation.attention_maps`` exactly as ``sagan-visualize attention`` draws it.

Every generator call here takes at most ``batch`` images (the app passes the smaller of its
``Limits.batch`` and the images its request holds in the budget): a grid of 256 images is 16 calls
of 16. A seed's image does not depend on the batch around it (z is drawn from the seed alone and G
computes each row on its own), so the pixels are those of one call of 256, up to the rounding of
the kernels TensorFlow picks for a batch shape (the tests check a 250-image grid bit for bit).
Grids come from ``generate_truncated``; single images and interpolation frames from ``mix``, which
returns no attention map; only ``attention`` calls ``explore``, for its one image.

Every request is checked against the model here (``check_*``) and fails with a ``RequestError``
that says what is wrong; static bounds (types, limits) are checked by the app's parameter types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.attention_maps import attention_maps, overlay_panel
from sagan_tf.serving.generators import ModelInfo, TrainedGenerator
from sagan_tf.serving.inputs import batches

PATHS = ("spherical", "linear")
MAX_SEED = 2**53 - 1  # seeds stay exact as JavaScript numbers
MAX_COUNT = 32  # images per grid row
MAX_GRID = 256  # images per grid
MAX_FRAMES = 32  # frames of an interpolation
MAX_SCALE = 16  # pixel repetition of the attention pictures
PANEL_SIZE = 256  # default size in pixels of an attention picture


class RequestError(SaganError):
    """A request the model cannot answer as asked (a label out of range, a pixel outside the image)."""


@dataclass(frozen=True)
class ImageSpec:
    """G(z_t, w_t) with z_t between the z of ``seed`` and ``seed_b`` and w_t between the two labels."""

    seed: int
    label: int
    seed_b: int | None = None  # default: seed
    label_b: int | None = None  # default: label
    t: float = 0.0
    truncation: float = math.inf
    path: str = "spherical"

    @property
    def end(self) -> tuple[int, int]:
        return (self.seed if self.seed_b is None else self.seed_b, self.label if self.label_b is None else self.label_b)


def check_label(label: int, info: ModelInfo, name: str = "label") -> None:
    if not 0 <= label < info.label_count:
        detail = "" if info.num_classes else " (the model is unconditional)"
        raise RequestError(f"{name} must be in [0, {info.label_count}){detail}, got {label}")


def check_spec(spec: ImageSpec, info: ModelInfo) -> None:
    check_label(spec.label, info)
    check_label(spec.end[1], info, "label_b")


def check_point(x: int, y: int, info: ModelInfo) -> None:
    size = info.resolution
    if not (0 <= x < size and 0 <= y < size):
        raise RequestError(f"the query pixel ({x}, {y}) is outside the {size}x{size} image: x and y must be in [0, {size})")


def interpolate_z(z_a: np.ndarray, z_b: np.ndarray, t: float, path: str = "spherical") -> np.ndarray:
    """z at t in [0, 1] from z_a to z_b (float32; exactly z_a at t = 0 and z_b at t = 1).

    ``spherical``: sin((1 - t) omega) / sin(omega) z_a + sin(t omega) / sin(omega) z_b, omega the
    angle between them (linear when they are parallel); ``linear``: (1 - t) z_a + t z_b.
    """
    a, b = np.asarray(z_a, np.float64), np.asarray(z_b, np.float64)
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-300)
    omega = math.acos(min(max(float(cos), -1.0), 1.0))
    if path == "linear" or math.sin(omega) < 1e-6:
        z = (1.0 - t) * a + t * b
    else:
        z = (math.sin((1.0 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)
    return z.astype(np.float32)


def class_weights(label_a: int, label_b: int, t: float, count: int) -> np.ndarray:
    """(count,) float32 weights (1 - t) e_a + t e_b: a one-hot row at t = 0 and t = 1."""
    weights = np.zeros(count, np.float64)
    weights[label_a] += 1.0 - t
    weights[label_b] += t
    return weights.astype(np.float32)


def generate(generator: TrainedGenerator, seeds, labels, truncation: float, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """``generator.images_and_z`` in calls of at most ``batch`` images: (images, z) of every (seed, label)."""
    seeds, labels = np.asarray(seeds, np.int64), np.asarray(labels, np.int32)
    parts = [generator.images_and_z(seeds[part], labels[part], truncation) for part in batches(len(seeds), batch)]
    return np.concatenate([images for images, _ in parts]), np.concatenate([z for _, z in parts])


def grid(generator: TrainedGenerator, labels: list[int], seeds: list[int], truncation: float, batch: int) -> np.ndarray:
    """(rows, cols, R, R, C) uint8: row r is class labels[r], column c seed seeds[c] (``generate_truncated``)."""
    for label in labels:
        check_label(label, generator.info)
    images, _ = generate(generator, np.tile(seeds, len(labels)), np.repeat(labels, len(seeds)), truncation, batch)
    return images.reshape(len(labels), len(seeds), *images.shape[1:])


def frame_times(frames: int) -> list[float]:
    """t of each frame: 0, 1/(n-1), ..., 1."""
    return [i / (frames - 1) for i in range(frames)]


def spec_seeds(specs: list[ImageSpec]) -> list[int]:
    """The seeds whose z the images of ``specs`` need."""
    return sorted({s.seed for s in specs} | {s.end[0] for s in specs})


def images_needed(specs: list[ImageSpec]) -> int:
    """The images a request for ``specs`` computes: theirs, or their seeds' when those are more."""
    return max(len(specs), len(spec_seeds(specs)))


def spec_inputs(generator: TrainedGenerator, specs: list[ImageSpec], batch: int) -> tuple[np.ndarray, np.ndarray]:
    """(z, class weights) of ``specs`` (all at one truncation): the seeds' z from ``generate_truncated``."""
    info = generator.info
    for spec in specs:
        check_spec(spec, info)
    seeds = spec_seeds(specs)
    _, z = generate(generator, seeds, [0] * len(seeds), specs[0].truncation, batch)  # z depends on the seed alone
    z_of = dict(zip(seeds, z, strict=True))
    zs = np.stack([interpolate_z(z_of[s.seed], z_of[s.end[0]], s.t, s.path) for s in specs])
    weights = np.stack([class_weights(s.label, s.end[1], s.t, info.label_count) for s in specs])
    return zs, weights


def render(generator: TrainedGenerator, specs: list[ImageSpec], batch: int) -> np.ndarray:
    """Images (len(specs), R, R, C) of ``specs`` through ``mix``, at most ``batch`` per call."""
    zs, weights = spec_inputs(generator, specs, batch)
    return np.concatenate([generator.mix(zs[part], weights[part]) for part in batches(len(specs), batch)])


def interpolation_specs(start: ImageSpec, frames: int) -> list[ImageSpec]:
    """The frames from (start.seed, start.label) to ``start.end``, both ends included."""
    return [ImageSpec(start.seed, start.label, *start.end, t, start.truncation, start.path) for t in frame_times(frames)]


def interpolation(generator: TrainedGenerator, start: ImageSpec, frames: int, batch: int) -> tuple[list[float], np.ndarray]:
    """(t of each frame, images (frames, R, R, C)) from (start.seed, start.label) to ``start.end``."""
    return frame_times(frames), render(generator, interpolation_specs(start, frames), batch)


def default_scale(resolution: int) -> int:
    return max(1, min(MAX_SCALE, PANEL_SIZE // resolution))


@dataclass
class LayerAttention:
    """One layer's attention for the query pixel: the beta row, where it comes from, its picture."""

    name: str
    query_grid: tuple[int, int]
    key_grid: tuple[int, int]
    query_row: int  # the row of beta: query cell (query_row // query_grid[1], query_row % query_grid[1])
    row: np.ndarray  # (N_key,) the softmax over the keys (eq. 1), sums to 1
    picture: np.ndarray  # (R * scale, R * scale, 3) uint8: ``sagan-visualize attention``'s panel


def attention(
    generator: TrainedGenerator, spec: ImageSpec, x: int, y: int, scale: int, batch: int
) -> tuple[np.ndarray, list[LayerAttention]]:
    """The image of ``spec`` and, for each attention layer of G, the attention of query pixel (x, y)
    (``explore`` of that one image; its seeds' z in calls of at most ``batch``)."""
    info = generator.info
    check_point(x, y, info)
    z, weights = spec_inputs(generator, [spec], batch)
    images, maps = generator.explore(z, weights)
    layers = []
    for layer in info.attention:
        beta = maps[layer.name]
        result = attention_maps(images, beta, [(x, y)], layer=layer.name)
        row = result.query_rows[0]
        picture = overlay_panel(images[0], result.maps[0, 0], (x, y), scale)
        layers.append(LayerAttention(layer.name, layer.query_grid, layer.key_grid, row, beta[0, row], picture))
    return images[0], layers
