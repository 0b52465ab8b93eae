"""Attention pictures against the pixel-by-pixel reference of tests/helpers/numpy_overlay.py: the
colour ramp, the overlay, a panel with its marker and the whole picture, exactly (uint8)."""

import numpy as np
import pytest

from sagan_tf.evaluation.attention_maps import attention_maps, colorize, overlay, overlay_panel, render
from tests.helpers import numpy_overlay as ref


def _images(batch, size, channels, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(batch, size, size, channels), dtype=np.uint8)


def _beta(batch, queries, keys, seed):
    """Rows that are softmaxes over the keys, as the attention layers return them."""
    logits = np.random.default_rng(seed).normal(size=(batch, queries, keys))
    e = np.exp(logits)
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def test_reference_colours_by_hand():
    """The reference itself at values worked out by hand."""
    assert ref.ramp_colour(0.0) == ref.ramp_colour(-0.5) == (68, 1, 84)
    assert ref.ramp_colour(1.0) == ref.ramp_colour(7.0) == (253, 231, 37)
    assert ref.ramp_colour(0.5) == (33, 145, 140)
    # Halfway between the first two anchors: (63.5, 41.5, 111.5), ties to even.
    assert ref.ramp_colour(0.125) == (64, 42, 112)
    # 0.6 of yellow over a white pixel: (253.8, 240.6, 124.2).
    white = np.full((1, 1, 3), 255, np.uint8)
    np.testing.assert_array_equal(ref.blend(white, np.ones((1, 1))), [[[254, 241, 124]]])
    # A 2x2 panel at scale 3: the marker of pixel (1, 0) covers rows 0..2 and columns 3..5.
    marked = ref.panel(np.zeros((2, 2, 1), np.uint8), np.zeros((2, 2)), (1, 0), scale=3, colour=(1, 2, 3))
    is_marker = (marked == (1, 2, 3)).all(-1)
    np.testing.assert_array_equal(np.argwhere(is_marker)[[0, -1]], [[0, 3], [2, 5]])
    assert is_marker.sum() == 9


def test_colorize_is_the_viridis_ramp():
    exact = [-0.25, 0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 2.0]  # anchors, ties, clipping
    values = np.concatenate([exact, np.random.default_rng(0).uniform(0, 1, size=228)]).reshape(12, 20)
    got = colorize(values)
    assert got.dtype == np.uint8 and got.shape == (12, 20, 3)
    np.testing.assert_array_equal(got, ref.colour_ramp(values))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("alpha", [0.6, 0.25])
def test_overlay_blends_the_scaled_map_over_the_grey_image(channels, alpha):
    image = _images(1, 8, channels, 1)[0]
    attention = np.random.default_rng(2).uniform(0, 0.1, size=(8, 8))  # scaled up to its maximum
    got = overlay(image, attention, alpha=alpha)
    assert got.dtype == np.uint8 and got.shape == (8, 8, 3)
    np.testing.assert_array_equal(got, ref.blend(image, attention, alpha))
    zero = np.zeros((8, 8))  # no maximum to scale by: the bottom colour everywhere
    np.testing.assert_array_equal(overlay(image, zero, alpha=alpha), ref.blend(image, zero, alpha))


@pytest.mark.parametrize("scale", [1, 2, 3, 4])
@pytest.mark.parametrize("point", [(0, 0), (7, 7), (2, 5), None])
def test_overlay_panel_is_the_enlarged_overlay_with_its_marker(scale, point):
    image = _images(1, 8, 1, 3)[0]
    attention = np.random.default_rng(4).uniform(size=(8, 8))
    colour = np.array(ref.QUERY_COLOURS[2], np.uint8)
    got = overlay_panel(image, attention, point, scale=scale, colour=colour)
    assert got.shape == (8 * scale, 8 * scale, 3)
    np.testing.assert_array_equal(got, ref.panel(image, attention, point, scale, ref.QUERY_COLOURS[2]))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("queries, keys", [(64, 16), (16, 16)])  # pooled keys (2x2 cells), paper keys
@pytest.mark.parametrize("mark", [True, False])
def test_render_is_the_reference_picture(channels, queries, keys, mark):
    images = _images(2, 8, channels, 5)
    beta = _beta(2, queries, keys, 6)
    points = [(0, 0), (7, 1), (3, 6), (4, 4), (1, 7), (6, 2)]  # six points: the colours start over
    maps = attention_maps(images, beta, points)
    for b in range(2):
        for q, point in enumerate(points):
            np.testing.assert_array_equal(maps.maps[b, q], ref.query_map(beta[b], point, 8))
    got = render(maps, scale=3, pad=2, mark=mark)
    np.testing.assert_array_equal(got, ref.picture(images, beta, points, scale=3, pad=2, mark_points=mark))


def test_beta_panel_is_the_second_column_of_the_picture():
    images = _images(1, 8, 1, 7)
    beta = _beta(1, 16, 4, 8)
    full = ref.picture(images, beta, [(5, 2)], scale=2, pad=4)
    np.testing.assert_array_equal(full[4:20, 24:40], ref.beta_panel(images[0], beta[0], (5, 2), scale=2))
