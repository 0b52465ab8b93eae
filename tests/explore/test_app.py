"""sagan-explore's API over HTTP: its images and attention against the SavedModel's own outputs,
``sagan-visualize``'s pictures and numpy; bad requests; 50 concurrent requests.

The app serves the tiny export of the conftest fixture ``explore_export`` from a thread of this process; every
expected value is computed here from the SavedModel's signatures (``Reference``) or numpy.
"""

import json
import math
import re
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sagan_tf.explore.views import class_weights, interpolate_z
from sagan_tf.images import make_grid
from tests.helpers.explore import decode_png, get, get_json
from tests.helpers.numpy_overlay import beta_panel


def api(base, endpoint, /, **params):
    return f"{base}api/{endpoint}?{urllib.parse.urlencode(params)}"


def test_info_names_the_classes_and_every_attention_layer(explore_app_url, explore_export):
    info = get_json(api(explore_app_url, "info"))
    assert info["resolution"] == 32 and info["channels"] == 1 and info["num_classes"] == 10 and info["z_dim"] == 128
    assert [c["name"] for c in info["classes"]][:3] == ["T-shirt/top", "Trouser", "Pullover"]
    assert info["attention"] == [
        {"name": "attention_8", "query_grid": [8, 8], "key_grid": [4, 4]},
        {"name": "attention_16", "query_grid": [16, 16], "key_grid": [8, 8]},
    ]
    assert str(explore_export.version_dir) in info["source"]


@pytest.mark.parametrize("truncation", [None, 0.5])
def test_grid_images_are_the_saved_models_generate_truncated_output(explore_app_url, explore_reference, truncation):
    params = {"seed": 40, "count": 3} | ({} if truncation is None else {"truncation": truncation})
    data = get_json(api(explore_app_url, "grid", **params))
    assert [row["label"] for row in data["rows"]] == list(range(10)) and data["seeds"] == [40, 41, 42]
    labels = np.repeat(np.arange(10), 3)
    seeds = np.tile([40, 41, 42], 10)
    expected, _ = explore_reference.generate(seeds, labels, np.inf if truncation is None else truncation)
    shown = np.stack([decode_png(item["png"]) for row in data["rows"] for item in row["images"]])
    np.testing.assert_array_equal(shown, expected)
    status, body, kind = get(api(explore_app_url, "grid.png", **params))
    assert status == 200 and kind == "image/png"
    np.testing.assert_array_equal(decode_png(body), make_grid(expected, cols=3))


def test_one_class_row_and_a_single_image(explore_app_url, explore_reference):
    data = get_json(api(explore_app_url, "grid", label=6, seed=3, count=2))
    assert [row["name"] for row in data["rows"]] == ["Shirt"]
    expected, _ = explore_reference.generate([3, 4], [6, 6])
    np.testing.assert_array_equal(decode_png(data["rows"][0]["images"][1]["png"]), expected[1])
    status, body, _ = get(api(explore_app_url, "image.png", seed=4, label=6))
    assert status == 200
    np.testing.assert_array_equal(decode_png(body), expected[1])


@pytest.mark.parametrize("x, y", [(0, 0), (13, 22), (31, 5)])
def test_attention_is_the_beta_row_of_the_query_cell_drawn_as_sagan_visualize_draws_it(explore_app_url, explore_reference, x, y):
    data = get_json(api(explore_app_url, "attention", seed=9, label=2, x=x, y=y, scale=4))
    images, out = explore_reference.attention(9, 2)
    np.testing.assert_array_equal(decode_png(data["image"]), images[0])
    assert [layer["name"] for layer in data["layers"]] == ["attention_8", "attention_16"]
    for layer in data["layers"]:
        side = layer["query_grid"][1]
        cell = 32 // side
        row = (y // cell) * side + x // cell  # the query cell holding the pixel, computed here
        assert layer["query_row"] == row and layer["query_cell"] == [y // cell, x // cell]
        x0, y0, x1, y1 = layer["query_box"]
        assert x0 <= x < x1 and y0 <= y < y1 and x1 - x0 == cell
        np.testing.assert_array_equal(np.float32(layer["row"]), out[layer["name"]][0, row])
        assert math.isclose(sum(layer["row"]), 1.0, rel_tol=1e-5)
        assert layer["max"] == max(layer["row"])
        # the panel, computed by the numpy reference of the attention pictures
        np.testing.assert_array_equal(decode_png(layer["picture"]), beta_panel(images[0], out[layer["name"]][0], (x, y), scale=4))


def test_the_attention_of_another_pixel_differs(explore_app_url):
    one = get_json(api(explore_app_url, "attention", seed=9, label=2, x=3, y=3))
    other = get_json(api(explore_app_url, "attention", seed=9, label=2, x=28, y=28))
    for a, b in zip(one["layers"], other["layers"], strict=True):
        assert a["query_row"] != b["query_row"] and np.abs(np.subtract(a["row"], b["row"])).max() > 1e-3


def test_interpolate_z_ends_exactly_and_the_spherical_path_keeps_the_norm():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(128).astype(np.float32)
    b = rng.standard_normal(128).astype(np.float32)
    for path in ("spherical", "linear"):
        np.testing.assert_array_equal(interpolate_z(a, b, 0.0, path), a)
        np.testing.assert_array_equal(interpolate_z(a, b, 1.0, path), b)
    e0, e1 = np.eye(128, dtype=np.float32)[:2] * 3  # orthogonal, norm 3: the spherical path is a quarter circle
    for t in (0.25, 0.5, 0.9):
        np.testing.assert_allclose(interpolate_z(e0, e1, t), [3 * np.cos(t * np.pi / 2), 3 * np.sin(t * np.pi / 2)] + [0] * 126,
                                   atol=1e-6)
        np.testing.assert_allclose(interpolate_z(e0, e1, t, "linear")[:2], [3 * (1 - t), 3 * t], atol=1e-6)
    np.testing.assert_array_equal(interpolate_z(a, a, 0.3), a)  # parallel: no angle to turn through
    np.testing.assert_array_equal(class_weights(2, 5, 0.25, 10), [0, 0, 0.75, 0, 0, 0.25, 0, 0, 0, 0])


@pytest.mark.parametrize("path", ["spherical", "linear"])
def test_interpolation_frames_end_at_the_two_images_and_mix_in_between(explore_app_url, explore_reference, path):
    params = {"seed": 5, "label": 1, "seed_b": 8, "label_b": 7, "frames": 5, "truncation": 1.5, "path": path}
    data = get_json(api(explore_app_url, "interpolation", **params))
    assert [frame["t"] for frame in data["frames"]] == [0, 0.25, 0.5, 0.75, 1]
    frames = np.stack([decode_png(frame["png"]) for frame in data["frames"]])
    ends, z = explore_reference.generate([5, 8], [1, 7], 1.5)
    np.testing.assert_array_equal(frames[0], ends[0])
    np.testing.assert_array_equal(frames[-1], ends[1])
    # The middle frame: z halfway along the path (numpy, here), class weights half and half.
    a, b = z.astype(np.float64)
    if path == "linear":
        middle = (a + b) / 2
    else:
        omega = np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
        middle = (a + b) * np.sin(omega / 2) / np.sin(omega)
    weights = np.zeros((1, 10), np.float32)
    weights[0, [1, 7]] = 0.5
    out = explore_reference.explore(middle[None].astype(np.float32), weights)
    assert np.abs(frames[2].astype(int) - out["images"][0].astype(int)).max() <= 1  # z rounded in another order
    assert np.abs(frames[2].astype(int) - ends.astype(int)).max() > 20  # a new image, not an end
    status, body, _ = get(api(explore_app_url, "interpolation.png", **params))
    np.testing.assert_array_equal(decode_png(body), make_grid(frames, cols=5))
    # Attention of a frame is the frame's: its image comes back with it.
    attention = get_json(api(explore_app_url, "attention", **{k: v for k, v in params.items() if k != "frames"}, t=0.5, x=4, y=4))
    np.testing.assert_array_equal(decode_png(attention["image"]), frames[2])


BAD_REQUESTS = [
    ("grid", {"label": 10}, "label must be in [0, 10), got 10"),
    ("grid", {"label": -1}, "label must be in [0, 10), got -1"),
    ("grid", {"seed": "abc"}, "seed must be an integer, got 'abc'"),
    ("grid", {"seed": "1.5"}, "seed must be an integer, got '1.5'"),
    ("grid", {"seed": -2}, "seed must be >= 0, got '-2'"),
    ("grid", {"truncation": 0}, "truncation must be >= 1e-06, got '0'"),
    ("grid", {"truncation": -0.5}, "truncation must be >= 1e-06, got '-0.5'"),
    ("grid", {"truncation": "nan"}, "truncation must be >= 1e-06, got 'nan'"),
    ("grid", {"truncation": "big"}, "truncation must be a number, got 'big'"),
    ("grid", {"count": 33}, "count must be <= 32, got '33'"),
    ("grid", {"count": 30}, "a grid holds at most 256 images: 10 classes x 30 seeds is too many"),
    ("grid.png", {"label": 11}, "label must be in [0, 10), got 11"),
    ("attention", {"seed": 1, "label": 2, "x": 32, "y": 0}, "the query pixel (32, 0) is outside the 32x32 image"),
    ("attention", {"seed": 1, "label": 2, "x": 3, "y": -1}, "the query pixel (3, -1) is outside the 32x32 image"),
    ("attention", {"seed": 1, "label": 2, "x": 3}, "y is required"),
    ("attention", {"seed": 1, "label": 12, "x": 3, "y": 3}, "label must be in [0, 10), got 12"),
    ("interpolation", {"frames": 1}, "frames must be >= 2, got '1'"),
    ("interpolation", {"label_b": 10}, "label_b must be in [0, 10), got 10"),
    ("interpolation", {"path": "cubic"}, "path must be 'spherical' or 'linear', got 'cubic'"),
    ("image.png", {"t": 1.5}, "t must be <= 1, got '1.5'"),
]


@pytest.mark.parametrize("path, params, message", BAD_REQUESTS)
def test_bad_requests_get_400_and_one_clear_sentence(explore_app_url, path, params, message):
    status, body, kind = get(api(explore_app_url, path, **params))
    assert status == 400 and kind == "application/json", (status, body[:200])
    assert json.loads(body)["error"].startswith(message), body


def test_fifty_concurrent_requests_are_all_answered_correctly_and_the_app_keeps_serving(explore_app_url, explore_reference):
    calls = []
    for i in range(50):
        kind = i % 5
        if kind == 0:
            calls.append(("grid", {"label": i % 10, "seed": i, "count": 4}))
        elif kind == 1:
            calls.append(("attention", {"seed": i, "label": i % 10, "x": i % 32, "y": (3 * i) % 32}))
        elif kind == 2:
            calls.append(("interpolation", {"seed": i, "seed_b": i + 1, "label": 0, "label_b": 9, "frames": 4}))
        elif kind == 3:
            calls.append(("image.png", {"seed": i, "label": i % 10, "truncation": 0.7}))
        else:
            calls.append(("grid", {"label": 99, "seed": i}))  # a bad one
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda call: get(api(explore_app_url, *call[:1], **call[1]), timeout=300), calls))
    for (path, params), (status, body, _) in zip(calls, answers, strict=True):
        if path == "grid" and params["label"] == 99:
            assert status == 400 and "label must be in [0, 10)" in json.loads(body)["error"]
            continue
        assert status == 200, (path, params, status, body[:200])
        if path == "grid":
            expected, _ = explore_reference.generate(range(params["seed"], params["seed"] + 4), [params["label"]] * 4)
            shown = [decode_png(item["png"]) for item in json.loads(body)["rows"][0]["images"]]
            np.testing.assert_array_equal(np.stack(shown), expected)
        elif path == "image.png":
            expected, _ = explore_reference.generate([params["seed"]], [params["label"]], 0.7)
            np.testing.assert_array_equal(decode_png(body), expected[0])
        elif path == "attention":
            assert len(json.loads(body)["layers"]) == 2
        else:
            assert len(json.loads(body)["frames"]) == 4
    assert get_json(api(explore_app_url, "info"))["resolution"] == 32


def test_the_page_and_everything_it_loads_come_from_the_app(explore_app_url):
    status, page, kind = get(explore_app_url)
    assert status == 200 and kind.startswith("text/html")
    html = page.decode()
    assets = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert sorted(assets) == ["/static/explore.css", "/static/explore.js", "data:,"]
    for asset in ("/static/explore.css", "/static/explore.js"):
        status, body, kind = get(explore_app_url + asset.lstrip("/"))
        assert status == 200 and kind.split(";")[0] in ("text/css", "text/javascript", "application/javascript")
        assert not re.search(rb"(https?:)?//[a-z]", body.replace(b"://127.0.0.1", b"")), asset
    assert not re.search(r"https?://", html)
    status, body, kind = get(explore_app_url + "api/colorbar.png")
    assert status == 200 and decode_png(body).shape == (12, 256, 3)
