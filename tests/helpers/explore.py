"""Serving ``sagan-explore`` in tests and talking to it: the app in a thread of the test process
(uvicorn on 127.0.0.1, a free port) or a command line in a subprocess, HTTP requests, PNG decoding,
and ``Reference``: the SavedModel's own signatures, called directly (not through the app).

The export it is tested on (conftest ``explore_export``) is a tiny run (``exports.make_run``) with
two attention layers in G (8x8 and 16x16, ``OVERRIDES``), SavedModel only.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

OVERRIDES = ["model.g_attention=[8,16]"]  # two attention layers in G: "every layer" means more than one


@contextlib.contextmanager
def command_serving(args, cwd, env) -> Iterator[tuple[str, subprocess.Popen]]:
    """Runs a sagan-explore command line; yields (the URL it printed, the process). Ctrl+C must stop it
    with status 0."""
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()  # printed once the app accepts connections
        assert url.startswith("http://127.0.0.1:") and url.endswith("/"), (url, process.stderr.read()[-3000:])
        yield url, process
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, process.stderr.read()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serving(generator, limits=None, allowed_hosts=()) -> Iterator[str]:
    """The app around ``generator`` served on 127.0.0.1 in a thread, as the command line serves it
    (``limits``, the Host rule of its socket plus ``allowed_hosts``); yields its URL."""
    with serving_app(generator, limits, allowed_hosts) as (address, _):
        yield address


@contextlib.contextmanager
def serving_app(generator, limits=None, allowed_hosts=()) -> Iterator[tuple[str, object]]:
    """``serving``, yielding (URL, the FastAPI app): ``app.state.budget`` is its image budget."""
    from sagan_tf.explore.app import create_app
    from sagan_tf.explore.server import bind, make_server, serving_hosts, url

    sock = bind("127.0.0.1", 0)
    started = threading.Event()
    app = create_app(generator, limits, serving_hosts(sock, "127.0.0.1", allowed_hosts))
    server = make_server(app, on_started=started.set)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert started.wait(60), "the app did not start"
        yield url(sock), app
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def get(url: str, timeout: float = 60) -> tuple[int, bytes, str]:
    """(status, body, content type) of a GET; 4xx and 5xx are answers too."""
    status, body, headers = get_with_headers(url, timeout=timeout)
    return status, body, headers.get("Content-Type", "")


def get_with_headers(url: str, headers: dict | None = None, timeout: float = 60):
    """(status, body, response headers: case-insensitive ``.get``) of a GET sending ``headers``
    (a ``Host`` replaces urllib's own)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def get_json(url: str) -> dict:
    status, body, _ = get(url)
    assert status == 200, (status, body[:300])
    return json.loads(body)


def decode_png(data: bytes | str) -> np.ndarray:
    """PNG bytes or a PNG data URL -> (H, W, C) uint8."""
    from PIL import Image

    if isinstance(data, str):
        head, _, payload = data.partition(",")
        assert head == "data:image/png;base64", head
        data = base64.b64decode(payload)
    image = np.asarray(Image.open(io.BytesIO(data)))
    return image[..., None] if image.ndim == 2 else image


class Reference:
    """The SavedModel's own outputs for the page's images (independent of ``sagan_tf.explore``)."""

    def __init__(self, version_dir, num_classes: int = 10):
        self.loaded = tf.saved_model.load(str(version_dir))
        self.num_classes = num_classes

    def generate(self, seeds, labels, truncation=np.inf):
        out = self.loaded.signatures["generate_truncated"](
            seed=tf.constant(seeds, tf.int64), labels=tf.constant(labels, tf.int32),
            truncation=tf.constant(truncation, tf.float32))
        return out["images"].numpy(), out["z"].numpy()

    def explore(self, z, weights):
        out = self.loaded.signatures["explore"](z=tf.constant(z, tf.float32), class_weights=tf.constant(weights, tf.float32))
        return {k: v.numpy() for k, v in out.items()}

    def one_hot(self, labels):
        return np.eye(self.num_classes, dtype=np.float32)[np.asarray(labels)]

    def attention(self, seed: int, label: int, truncation=np.inf):
        """(images (1, R, R, C), ``explore``'s outputs) of one (seed, label): its maps and the same image."""
        images, z = self.generate([seed], [label], truncation)
        out = self.explore(z, self.one_hot([label]))
        np.testing.assert_array_equal(out["images"], images)
        return images, out


def wait_until(condition, timeout: float = 30.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


class Recording:
    """A ``TrainedGenerator`` whose calls are recorded: ``calls`` lists (kind, images) of each
    ``images_and_z`` ("generate"), ``explore`` and ``mix`` call, ``peak`` is the most images inside calls at once."""

    def __init__(self, generator):
        self.generator = generator
        self.info = generator.info
        self.calls: list[tuple[str, int]] = []
        self.peak = 0
        self._inside = 0
        self._lock = threading.Lock()

    def _call(self, kind, images, function, *args):
        with self._lock:
            self.calls.append((kind, images))
            self._inside += images
            self.peak = max(self.peak, self._inside)
        try:
            return function(*args)
        finally:
            with self._lock:
                self._inside -= images

    def images_and_z(self, seeds, labels, truncation=np.inf):
        return self._call("generate", len(seeds), self.generator.images_and_z, seeds, labels, truncation)

    def explore(self, z, class_weights):
        return self._call("explore", len(z), self.generator.explore, z, class_weights)

    def mix(self, z, class_weights):
        return self._call("mix", len(z), self.generator.mix, z, class_weights)
