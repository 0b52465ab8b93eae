"""sagan-explore within its limits, over HTTP on 127.0.0.1: bounded generator calls with the pixels
of one call, interpolations without attention maps, a bounded wait then 503 with Retry-After, a
burst of maximum requests, uvicorn's connection limit, and values the signatures would refuse or misread.

Expected images come from the SavedModel's own signatures (``Reference``); what the app asks of its
generator is recorded by ``Recording`` around the loaded export.
"""

import json
import math
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sagan_tf.explore.limits import Limits
from sagan_tf.explore.views import class_weights, interpolate_z
from sagan_tf.images import make_grid
from sagan_tf.serving.generators import TrainedGenerator
from tests.helpers.explore import (
    Recording,
    decode_png,
    get,
    get_json,
    get_with_headers,
    serving,
    serving_app,
    wait_until,
)


def api(base, endpoint, /, **params):
    return f"{base}api/{endpoint}?{urllib.parse.urlencode(params)}"


def grid_pixels(body: bytes) -> np.ndarray:
    return np.stack([decode_png(item["png"]) for row in json.loads(body)["rows"] for item in row["images"]])


def test_info_states_every_limit(explore_app_url):
    assert get_json(api(explore_app_url, "info"))["limits"] == {
        "max_seed": 2**53 - 1, "max_count": 32, "max_grid": 256, "max_frames": 32, "max_scale": 16,
        "min_truncation": 1e-6, "max_images": 64, "batch": 16, "wait_seconds": 2.0, "max_connections": 64,
    }


def test_a_maximum_grid_is_computed_in_calls_of_16_with_the_pixels_of_one_call(explore_generator, explore_reference):
    recording = Recording(explore_generator)
    with serving(recording) as url:
        status, body, _ = get(api(url, "grid", seed=1000, count=25, truncation=0.7))
        calls = list(recording.calls)
        status_png, png, _ = get(api(url, "grid.png", seed=1000, count=25, truncation=0.7))
    assert status == 200 and status_png == 200
    assert calls == [("generate", 16)] * 15 + [("generate", 10)]  # 250 images: 15 calls of 16, one of 10
    seeds, labels = np.tile(np.arange(1000, 1025), 10), np.repeat(np.arange(10), 25)
    expected, _ = explore_reference.generate(seeds, labels, 0.7)  # one call of 250
    np.testing.assert_array_equal(grid_pixels(body), expected)
    np.testing.assert_array_equal(decode_png(png), make_grid(expected, cols=25))


def test_interpolations_and_single_images_come_from_mix_and_only_attention_calls_explore(
    explore_generator, explore_reference
):
    recording = Recording(explore_generator)
    params = {"seed": 5, "label": 1, "seed_b": 8, "label_b": 7, "truncation": 1.5}
    with serving(recording) as url:
        frames = get_json(api(url, "interpolation", frames=21, **params))["frames"]
        interpolation_calls, recording.calls[:] = list(recording.calls), []
        status, image, _ = get(api(url, "image.png", t=0.25, **params))
        image_calls, recording.calls[:] = list(recording.calls), []
        attention = get_json(api(url, "attention", t=0.25, x=3, y=4, **params))
        attention_calls = list(recording.calls)
    assert interpolation_calls == [("generate", 2), ("mix", 16), ("mix", 5)]  # the two seeds' z, then the frames
    assert image_calls == [("generate", 2), ("mix", 1)]
    assert attention_calls == [("generate", 2), ("explore", 1)]
    # mix gives explore's images: every frame equals the explore signature's image of its (z, weights).
    ends, z = explore_reference.generate([5, 8], [1, 7], 1.5)
    times = [frame["t"] for frame in frames]
    zs = np.stack([interpolate_z(z[0], z[1], t) for t in times])
    weights = np.stack([class_weights(1, 7, t, 10) for t in times])
    expected = explore_reference.explore(zs, weights)["images"]
    shown = np.stack([decode_png(frame["png"]) for frame in frames])
    np.testing.assert_array_equal(shown, expected)
    np.testing.assert_array_equal(shown[[0, -1]], ends)
    assert status == 200 and times[5] == 0.25
    np.testing.assert_array_equal(decode_png(image), shown[5])
    np.testing.assert_array_equal(decode_png(attention["image"]), shown[5])


def test_an_export_without_mix_gives_the_same_frames_through_explore(explore_generator, explore_reference, explore_app_url):
    signatures = explore_reference.loaded.signatures
    old = TrainedGenerator(explore_generator.info, {name: signatures[name] for name in ("generate_truncated", "explore")})  # no mix
    params = {"seed": 2, "label": 3, "seed_b": 9, "label_b": 0, "frames": 6, "path": "linear"}
    with serving(old) as url:
        frames = get_json(api(url, "interpolation", **params))["frames"]
    current = get_json(api(explore_app_url, "interpolation", **params))["frames"]
    assert [f["t"] for f in frames] == [f["t"] for f in current]
    np.testing.assert_array_equal(np.stack([decode_png(f["png"]) for f in frames]),
                                  np.stack([decode_png(f["png"]) for f in current]))


def test_with_the_capacity_held_a_request_waits_its_time_then_gets_503_with_retry_after(explore_generator, explore_reference):
    with serving_app(explore_generator, Limits(max_images=4, wait_seconds=0.5)) as (url, app):
        with app.state.budget.hold(4):
            start = time.monotonic()
            status, body, headers = get_with_headers(api(url, "grid", label=3, seed=7, count=2))
            waited = time.monotonic() - start
            info = get_json(api(url, "info"))  # what holds no image is answered
        assert status == 503 and headers.get("Retry-After") == "1" and headers.get("Content-Type") == "application/json"
        assert json.loads(body) == {"error": "the app is busy: 2 more images did not fit beside the 4 it is computing "
                                             "(at most 4 at once) within 0.5 s; try again shortly"}
        assert waited >= 0.5  # its whole wait (a loaded machine only makes it longer)
        assert info["limits"]["max_images"] == 4 and info["limits"]["wait_seconds"] == 0.5
        status, body, _ = get(api(url, "grid", label=3, seed=7, count=2))  # capacity back: served
        assert status == 200 and app.state.budget.in_flight == 0
    np.testing.assert_array_equal(grid_pixels(body), explore_reference.generate([7, 8], [3, 3])[0])


def test_a_waiting_request_is_served_once_capacity_returns(explore_generator, explore_reference):
    answers = []
    with serving_app(explore_generator, Limits(max_images=4, wait_seconds=30)) as (url, app):
        with app.state.budget.hold(4):
            thread = threading.Thread(target=lambda: answers.append(get(api(url, "image.png", seed=4, label=6))))
            start = time.monotonic()
            thread.start()
            assert wait_until(lambda: app.state.budget.waiting == 1, timeout=30)
            time.sleep(0.3)
            assert answers == []
        thread.join(60)
        elapsed = time.monotonic() - start
    ((status, body, _),) = answers
    assert status == 200 and elapsed >= 0.3
    np.testing.assert_array_equal(decode_png(body), explore_reference.generate([4], [6])[0][0])


def test_a_request_larger_than_the_budget_is_served_alone_in_calls_of_at_most_the_budget(explore_generator, explore_reference):
    recording = Recording(explore_generator)
    with serving(recording, Limits(max_images=4, wait_seconds=5)) as url:
        status, body, _ = get(api(url, "grid", seed=50, count=2))  # 20 images with 4 slots
        grid_calls, recording.calls[:] = list(recording.calls), []
        frames = get_json(api(url, "interpolation", seed=1, seed_b=2, frames=9))["frames"]
        interpolation_calls = list(recording.calls)
    assert status == 200 and grid_calls == [("generate", 4)] * 5
    assert interpolation_calls == [("generate", 2), ("mix", 4), ("mix", 4), ("mix", 1)] and len(frames) == 9
    expected, _ = explore_reference.generate(np.tile([50, 51], 10), np.repeat(np.arange(10), 2))  # one call of 20
    np.testing.assert_array_equal(grid_pixels(body), expected)


def test_a_burst_of_maximum_requests_ends_in_200_or_503_and_the_app_keeps_serving(explore_generator, explore_reference):
    recording = Recording(explore_generator)
    limits = Limits(max_images=32, batch=8, wait_seconds=0.5)
    grid = {"seed": 300, "count": 25}  # 10 classes x 25 seeds: the largest grid of the model
    interpolation = {"seed": 3, "label": 2, "seed_b": 4, "label_b": 5, "frames": 32}
    calls = [("grid", grid) if i % 3 == 0 else ("interpolation", interpolation) if i % 3 == 1
             else ("attention", {"seed": i, "label": i % 10, "x": i, "y": 31 - i}) for i in range(30)]
    with serving_app(recording, limits) as (url, app):
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            answers = list(pool.map(lambda call: get_with_headers(api(url, call[0], **call[1]), timeout=300), calls))
        after = get(api(url, "grid", label=1, seed=300, count=2))
        info = get_json(api(url, "info"))
        in_flight, waiting = app.state.budget.in_flight, app.state.budget.waiting
    expected_grid, _ = explore_reference.generate(np.tile(np.arange(300, 325), 10), np.repeat(np.arange(10), 25))
    reference_frames = None
    statuses = []
    for (kind, params), (status, body, headers) in zip(calls, answers, strict=True):
        statuses.append(status)
        assert status in (200, 503), (kind, status, body[:300])
        if status == 503:
            assert headers.get("Retry-After") == "1" and json.loads(body)["error"].startswith("the app is busy")
        elif kind == "grid":
            np.testing.assert_array_equal(grid_pixels(body), expected_grid)
        elif kind == "interpolation":
            frames = np.stack([decode_png(f["png"]) for f in json.loads(body)["frames"]])
            reference_frames = frames if reference_frames is None else reference_frames
            np.testing.assert_array_equal(frames, reference_frames)  # every served copy is the same
        else:
            image = explore_reference.generate([params["seed"]], [params["label"]])[0][0]
            np.testing.assert_array_equal(decode_png(json.loads(body)["image"]), image)
    assert statuses.count(200) >= 1  # the first in line is always served
    assert recording.peak <= limits.max_images  # images inside generator calls at once, across all requests
    assert max(images for _, images in recording.calls) <= limits.batch
    assert after[0] == 200 and info["resolution"] == 32 and (in_flight, waiting) == (0, 0)
    np.testing.assert_array_equal(np.stack([decode_png(item["png"]) for item in json.loads(after[1])["rows"][0]["images"]]),
                                  expected_grid[25:27])


def test_uvicorn_answers_503_beyond_max_connections_and_serves_again_when_they_close(explore_generator):
    with serving(explore_generator, Limits(max_connections=3)) as url:
        port = urllib.parse.urlsplit(url).port
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            time.sleep(0.2)  # let the server accept them
            status, body, kind = get(api(url, "info"))
            assert status == 503 and body == b"Service Unavailable" and kind.startswith("text/plain")
        finally:
            for sock in idle:
                sock.close()
        assert wait_until(lambda: get(api(url, "info"))[0] == 200, timeout=10)


MORE_BAD_REQUESTS = [
    ("grid", {"truncation": "1e-46"}, "truncation must be >= 1e-06, got '1e-46'"),  # 0 in float32
    ("image.png", {"truncation": "1e-40"}, "truncation must be >= 1e-06, got '1e-40'"),  # subnormal in float32
    ("interpolation", {"truncation": "5e-7"}, "truncation must be >= 1e-06, got '5e-7'"),
    ("attention", {"x": 1, "y": 1, "truncation": "-inf"}, "truncation must be >= 1e-06, got '-inf'"),
    ("grid", {"label": 10**30}, f"label must be in [0, 10), got {10**30}"),
    ("grid", {"count": "inf"}, "count must be an integer, got 'inf'"),
    ("grid", {"seed": 2**53}, f"seed must be <= {2**53 - 1}, got '{2**53}'"),
    ("grid", {"seed": 2**53 - 2, "count": 4}, f"seeds must be <= {2**53 - 1}: seed + count - 1 is {2**53 + 1}"),
    ("interpolation", {"frames": -3}, "frames must be >= 2, got '-3'"),
    ("interpolation", {"frames": 33}, "frames must be <= 32, got '33'"),
    ("interpolation", {"seed_b": 10**20}, f"seed_b must be <= {2**53 - 1}, got '{10**20}'"),
    ("image.png", {"t": "nan"}, "t must be a finite number, got 'nan'"),
    ("image.png", {"label_b": -1}, "label_b must be in [0, 10), got -1"),
    ("attention", {"x": 10**20, "y": 0}, f"the query pixel ({10**20}, 0) is outside the 32x32 image"),
    ("attention", {"x": 1, "y": 1, "scale": 0}, "scale must be >= 1, got '0'"),
]


@pytest.mark.parametrize("path, params, message", MORE_BAD_REQUESTS)
def test_values_beyond_what_the_model_takes_get_400_and_one_sentence(explore_app_url, path, params, message):
    status, body, kind = get(api(explore_app_url, path, **params))
    assert status == 400 and kind == "application/json", (status, body[:200])
    assert json.loads(body)["error"].startswith(message), body


def test_the_smallest_truncation_and_inf_are_served(explore_app_url, explore_reference):
    smallest = get_json(api(explore_app_url, "grid", label=4, seed=11, count=2, truncation=1e-6))
    expected, z = explore_reference.generate([11, 12], [4, 4], 1e-6)
    assert smallest["truncation"] == 1e-6 and np.abs(z).max() <= 1e-6
    np.testing.assert_array_equal(np.stack([decode_png(i["png"]) for i in smallest["rows"][0]["images"]]), expected)
    infinite = get_json(api(explore_app_url, "grid", label=4, seed=11, count=2, truncation="inf"))
    assert infinite["truncation"] is None  # inf is no truncation
    untruncated, _ = explore_reference.generate([11, 12], [4, 4], math.inf)
    np.testing.assert_array_equal(np.stack([decode_png(i["png"]) for i in infinite["rows"][0]["images"]]), untruncated)


def test_unknown_paths_and_methods_get_json_errors(explore_app_url):
    status, body, kind = get(explore_app_url + "api/nothing")
    assert status == 404 and kind == "application/json"
    assert json.loads(body) == {"error": "there is no page /api/nothing: the API is under /api/ (see /api/info)"}
    request = urllib.request.Request(api(explore_app_url, "grid"), method="POST", data=b"")
    try:
        urllib.request.urlopen(request, timeout=60)
        raise AssertionError("POST was answered")
    except urllib.error.HTTPError as e:
        assert e.code == 405 and json.loads(e.read()) == {"error": "POST is not allowed here: the API answers GET requests"}
