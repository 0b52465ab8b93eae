"""Attention pictures: the maps drawn are the layer's own beta rows; the CLI and TensorBoard images."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from sagan_tf.cli.visualize import main
from sagan_tf.evaluation.attention import attention_picture
from sagan_tf.evaluation.attention_maps import (
    default_query_points,
    key_map_to_image,
    panel_box,
    query_index,
    render,
)
from sagan_tf.models import Generator
from tests.helpers import numpy_overlay
from tests.helpers.cli import TINY_RUN_STEPS, read_events, run_main


def test_query_cells_and_key_grids_of_both_variants():
    # 32 px image, 16x16 queries: pixel (x=5, y=9) is in query cell (row 4, col 2) -> 4 * 16 + 2.
    assert query_index((5, 9), 32, (16, 16)) == 66
    assert query_index((31, 31), 32, (16, 16)) == 255
    row = np.arange(64.0)  # pooled: 8x8 keys, each covering 4x4 pixels
    up = key_map_to_image(row, 32)
    assert up.shape == (32, 32) and up[0, 0] == 0 and up[3, 3] == 0 and up[4, 0] == 8 and up[31, 31] == 63
    up = key_map_to_image(np.arange(256.0), 32)  # paper: 16x16 keys, 2x2 pixels each
    assert up[2, 2] == 17 and up[1, 1] == 0
    assert default_query_points(32, 5) == [(8, 8), (23, 8), (8, 23), (23, 23), (16, 16)]
    with pytest.raises(ValueError, match="outside"):
        query_index((32, 0), 32, (16, 16))


@pytest.mark.parametrize("variant,keys", [("pooled", 8), ("paper", 16)])
def test_picture_maps_are_the_rows_of_the_layers_beta(variant, keys):
    keras.utils.set_random_seed(0)
    g = Generator(resolution=32, ch=4, z_dim=8, num_classes=3, channels=1, attention=[16], attention_variant=variant)
    g.build()
    z, labels = tf.random.normal([2, 8], seed=3), tf.constant([0, 2])
    points = [(3, 5), (30, 17)]
    picture, result = attention_picture(g, z, labels, points, scale=2)

    images, maps = g((z, labels), training=False, return_attention=True)
    beta = maps["attention_16"].numpy()  # (B, 256 queries, keys^2)
    assert beta.shape == (2, 256, keys * keys) and result.layer == "g/attention_16"
    np.testing.assert_allclose(beta.sum(-1), 1.0, rtol=1e-5)
    cell = 32 // keys
    for b in range(2):
        for q, (x, y) in enumerate(points):
            row = (y // 2) * 16 + x // 2
            expected = np.kron(beta[b, row].reshape(keys, keys), np.ones((cell, cell)))
            np.testing.assert_allclose(result.maps[b, q], expected, rtol=1e-6)
    # The picture is the reference drawing of those beta rows over the generated images, with and
    # without the query markers.
    np.testing.assert_array_equal(result.images, ((images.numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8))
    assert picture.shape == (4 + 2 * (64 + 4), 4 + 3 * (64 + 4), 3)
    np.testing.assert_array_equal(picture, numpy_overlay.picture(result.images, beta, points, scale=2))
    plain = render(result, scale=2, mark=False)
    np.testing.assert_array_equal(plain, numpy_overlay.picture(result.images, beta, points, scale=2, mark_points=False))
    top, left, bottom, right = panel_box(1, 2, 32, 2, 4)
    panel = numpy_overlay.beta_panel(result.images[1], beta[1], points[1], scale=2, mark_point=False)
    np.testing.assert_array_equal(plain[top:bottom, left:right], panel)
    assert (picture != plain).any()  # the query markers


def test_cli_writes_g_and_d_pictures_and_rejects_bad_points(tiny_run, tmp_path):  # noqa: F811
    logdir, _ = tiny_run
    out = tmp_path / "attention.png"
    assert run_main(main, ["attention", "--logdir", str(logdir), "--out", str(out)]) == 0
    side = 32 * 4
    assert Image.open(out).size == (4 + 5 * (side + 4), 4 + 4 * (side + 4))  # 4 classes x (image + 4 points)
    d_out = tmp_path / "d.png"
    argv = ["attention", "--logdir", str(logdir), "--out", str(d_out), "--network", "d", "--classes", "1,2",
            "--points", "0,0;31,31", "--scale", "2", "--raw"]
    assert run_main(main, argv) == 0
    assert Image.open(d_out).size == (4 + 3 * 68, 4 + 2 * 68)
    bad = tmp_path / "bad.png"
    assert run_main(main, ["attention", "--logdir", str(logdir), "--out", str(bad), "--points", "40,1"]) == 2
    assert run_main(main, ["attention", "--logdir", str(logdir), "--out", str(bad), "--layer", "nope"]) == 2
    assert not bad.exists()


def test_training_logs_attention_images_for_g_and_d(tiny_run):  # noqa: F811
    logdir, _ = tiny_run
    _, images = read_events(logdir / "train")
    for tag in ("attention/g/attention_16", "attention/d/attention_16"):
        assert [step for step, _ in images[tag]] == [3, TINY_RUN_STEPS], tag
