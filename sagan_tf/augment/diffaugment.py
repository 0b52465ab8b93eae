"""Differentiable augmentation of the images D sees (DiffAugment: Zhao et al. 2020, "Differentiable
Augmentation for Data-Efficient GAN Training", section 3 and its reference operations).

Every operation is a differentiable function of the images, so G's gradient flows through it; the
same policy is applied to real and generated images, in D's loss and in G's (section 3.2: augmenting
only the reals, or only D's loss, makes D's task differ from G's and fails).

Operations (``policy`` names, ``config.AUGMENTATIONS``, parsed by ``config.augment_policy``; images
in [-1, 1], NHWC):

- ``color``: brightness ``x + b``, b ~ U[-0.5, 0.5); saturation ``(x - mean_c x) * s + mean_c x``,
  s ~ U[0, 2) (mean over channels; the identity for one channel); contrast
  ``(x - mean_hwc x) * c + mean_hwc x``, c ~ U[0.5, 1.5) (mean over the whole image).
- ``translation``: shift by (ty, tx), each uniform in [-r, r] with r = round(side / 8); pixels
  shifted in from outside are 0: ``out[i, j] = x[i + ty, j + tx]``.
- ``cutout``: a square of side round(side / 2) set to 0, its centre uniform over the image (as
  DiffAugment's reference code draws it, the square may be clipped at the border).

Each of the five operations (brightness, saturation, contrast, translation, cutout) is applied to an
image with probability ``p`` (drawn per image and operation); ``p = 1`` is DiffAugment, ``p < 1``
with an adaptive ``p`` is ADA's stochastic augmentation (Karras et al. 2020, section 2.3).

Randomness: ``draw`` takes all random values of a batch from a stateless RNG keyed on a seed
tensor, so that a step is reproducible, a resumed run draws what an uninterrupted one would, and
under a ``tf.distribute`` strategy the draws are made for the global batch and each replica takes
its own slice (``SAGAN.augment``), making a step on N replicas equal to one on one device.
"""

from __future__ import annotations

import tensorflow as tf

# The independently applied pieces, in the order they run and their column in ``draws["apply"]``.
STAGES = ("brightness", "saturation", "contrast", "translation", "cutout")
_STAGES_OF = {"color": ("brightness", "saturation", "contrast"), "translation": ("translation",),
              "cutout": ("cutout",)}
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def stages(policy: tuple[str, ...]) -> tuple[str, ...]:
    """The stages a policy runs, in ``STAGES`` order."""
    wanted = {stage for op in policy for stage in _STAGES_OF[op]}
    return tuple(s for s in STAGES if s in wanted)


def translation_radius(side: int) -> int:
    return int(side * TRANSLATION_RATIO + 0.5)


def cutout_side(side: int) -> int:
    return int(side * CUTOUT_RATIO + 0.5)


def draw(batch: int | tf.Tensor, height: int, width: int, seed: tf.Tensor, probability) -> dict[str, tf.Tensor]:
    """Every random value of one augmented batch, from the stateless RNG keyed on ``seed`` (int64 [2]).

    Returns ``brightness``, ``saturation``, ``contrast`` (float32 [B]), ``shift`` (int32 [B, 2]: ty,
    tx), ``cutout`` (int32 [B, 2]: the square's centre row and column) and ``apply`` (bool
    [B, 5]: whether each of ``STAGES`` runs on each image, uniform < ``probability``).
    """
    seed = tf.cast(seed, tf.int64)

    def key(i: int) -> tf.Tensor:
        return tf.random.experimental.stateless_fold_in(seed, i)

    r_y, r_x = translation_radius(height), translation_radius(width)
    c_y, c_x = cutout_side(height), cutout_side(width)
    uniform = tf.random.stateless_uniform
    return {
        "brightness": uniform([batch], key(0)) - 0.5,
        "saturation": uniform([batch], key(1)) * 2.0,
        "contrast": uniform([batch], key(2)) + 0.5,
        "shift": tf.stack([
            uniform([batch], key(3), minval=-r_y, maxval=r_y + 1, dtype=tf.int32),
            uniform([batch], key(4), minval=-r_x, maxval=r_x + 1, dtype=tf.int32),
        ], axis=1),
        "cutout": tf.stack([
            uniform([batch], key(5), minval=0, maxval=height + (1 - c_y % 2), dtype=tf.int32),
            uniform([batch], key(6), minval=0, maxval=width + (1 - c_x % 2), dtype=tf.int32),
        ], axis=1),
        "apply": uniform([batch, len(STAGES)], key(7)) < tf.cast(probability, tf.float32),
    }


def slice_draws(draws: dict[str, tf.Tensor], start, size) -> dict[str, tf.Tensor]:
    """Rows ``start:start+size`` of every draw (one replica's share of the global batch)."""
    return {name: value[start : start + size] for name, value in draws.items()}


def brightness(x: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return x + tf.cast(b, x.dtype)[:, None, None, None]


def saturation(x: tf.Tensor, s: tf.Tensor) -> tf.Tensor:
    mean = tf.reduce_mean(x, axis=3, keepdims=True)
    return (x - mean) * tf.cast(s, x.dtype)[:, None, None, None] + mean


def contrast(x: tf.Tensor, c: tf.Tensor) -> tf.Tensor:
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * tf.cast(c, x.dtype)[:, None, None, None] + mean


def translate(x: tf.Tensor, shift: tf.Tensor) -> tf.Tensor:
    """``out[n, i, j] = x[n, i + ty_n, j + tx_n]``, 0 outside ``x`` (a gather: its gradient is a scatter)."""
    height, width = x.shape[1], x.shape[2]
    r_y, r_x = translation_radius(height), translation_radius(width)
    padded = tf.pad(x, [[0, 0], [r_y, r_y], [r_x, r_x], [0, 0]])
    rows = tf.range(height)[None, :] + shift[:, 0:1] + r_y  # [B, H] rows of ``padded``
    cols = tf.range(width)[None, :] + shift[:, 1:2] + r_x
    x = tf.gather(padded, rows, axis=1, batch_dims=1)  # [B, H, W + 2 r_x, C]
    return tf.gather(x, cols, axis=2, batch_dims=1)


def cut_out(x: tf.Tensor, centre: tf.Tensor) -> tf.Tensor:
    """Zeroes rows ``[cy - s//2, cy - s//2 + s)`` x columns ``[cx - s//2, cx - s//2 + s)``."""
    height, width = x.shape[1], x.shape[2]
    s_y, s_x = cutout_side(height), cutout_side(width)
    top = centre[:, 0:1] - s_y // 2
    left = centre[:, 1:2] - s_x // 2
    rows, cols = tf.range(height)[None, :], tf.range(width)[None, :]
    in_rows = (rows >= top) & (rows < top + s_y)  # [B, H]
    in_cols = (cols >= left) & (cols < left + s_x)  # [B, W]
    hole = in_rows[:, :, None] & in_cols[:, None, :]
    return x * tf.cast(~hole, x.dtype)[..., None]


_APPLY = {
    "brightness": lambda x, d: brightness(x, d["brightness"]),
    "saturation": lambda x, d: saturation(x, d["saturation"]),
    "contrast": lambda x, d: contrast(x, d["contrast"]),
    "translation": lambda x, d: translate(x, d["shift"]),
    "cutout": lambda x, d: cut_out(x, d["cutout"]),
}


def augment(x: tf.Tensor, draws: dict[str, tf.Tensor], policy: tuple[str, ...]) -> tf.Tensor:
    """``x`` (NHWC, static H and W) with the stages of ``policy``, each where ``draws["apply"]`` says."""
    for stage in stages(policy):
        applied = draws["apply"][:, STAGES.index(stage)]
        x = tf.where(applied[:, None, None, None], _APPLY[stage](x, draws), x)
    return x
