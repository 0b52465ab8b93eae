"""The 2015 Inception graph, downloaded once into a cache and checked against its published SHA-256.

``inception-2015-12-05.tgz`` is fetched from TensorFlow's download bucket (the URL of TTUR's
``fid.py`` and of TensorFlow's image tutorials), ``classify_image_graph_def.pb`` is taken out of it
and kept as ``<cache>/inception-2015-12-05/classify_image_graph_def.pb`` (default cache
``~/.cache/sagan_tf``, or ``$XDG_CACHE_HOME/sagan_tf``) only when its SHA-256 is
``inception_graph.PUBLISHED_SHA256``; a cached file is checked again each time it is used.
Without network the download fails with one line that says how to bring the file by hand
(``--inception-graph PATH``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.metrics.inception import file_digest
from sagan_tf.evaluation.metrics.inception_graph import GRAPH_FILE, NETWORK, PUBLISHED_SHA256, read_graph_bytes
from sagan_tf.files import write_bytes

URLS = (
    "https://storage.googleapis.com/download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz",
    "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz",
)
TIMEOUT_S = 60.0


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sagan_tf"


def _fetch(url: str, directory: Path) -> Path:
    """Downloads ``url`` into a temporary file in ``directory``; returns its path."""
    handle, name = tempfile.mkstemp(prefix=".download-", suffix=".tgz", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            shutil.copyfileobj(response, out, 1 << 20)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def cached_graph(cache_dir: str | Path | None = None, urls=URLS, sha256: str = PUBLISHED_SHA256) -> Path:
    """The path of the cached graph file, downloading it first when the cache has no file with the
    digest ``sha256``. Any failure is one ``SaganError`` line."""
    directory = Path(cache_dir or default_cache_dir()) / NETWORK
    path = directory / GRAPH_FILE
    if path.is_file() and file_digest(path, 64) == sha256:
        return path
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SaganError(f"cannot create the cache directory {directory}: {e.strerror or e}") from None
    reasons = []
    for url in urls:
        try:
            archive = _fetch(url, directory)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reasons.append(f"{url}: {getattr(e, 'reason', None) or e}")
            continue
        try:
            data = read_graph_bytes(archive)
        finally:
            archive.unlink(missing_ok=True)
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise SaganError(f"the {GRAPH_FILE} downloaded from {url} has SHA-256 {digest}, not the published "
                             f"{sha256}; it is not used")
        write_bytes(path, data)
        return path
    raise SaganError(f"cannot download the 2015 Inception graph ({'; '.join(reasons)}); where there is network, "
                     f"download inception-2015-12-05.tgz and pass --inception-graph PATH (the .tgz or its {GRAPH_FILE})")
