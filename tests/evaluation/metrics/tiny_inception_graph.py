"""A small stand-in for ``classify_image_graph_def.pb`` (the 2015 Inception graph), and the same
network computed with numpy, for tests that cannot download the 95 MB file.

The GraphDef has the real graph's entry and exit: ``DecodeJpeg/contents`` -> ``DecodeJpeg`` ->
``Cast`` -> ``ExpandDims`` (the tensor TTUR feeds) -> ``ResizeBilinear`` to 299x299 -> ``Sub`` 128
-> ``Mul`` 1/128 -> a 3x3 convolution with stride 2 -> ``conv/batchnorm`` as the 2015 op
``BatchNormWithGlobalNormalization`` (GraphDef producer version 8, as old graphs have) -> ReLU ->
18x18 average pooling -> a 1x1 convolution to 2048 channels -> ReLU -> ``pool_3`` (8x8 average
pooling, (N, 1, 1, 2048)) -> ``pool_3/_reshape`` (batch fixed at 1, as in the real graph) ->
``softmax/logits/MatMul`` with ``softmax/weights`` (2048 x 1008) -> ``softmax/logits`` (+ bias) ->
``softmax``. ``numpy_network`` computes pool_3 and the unbiased logits from pixel values with
numpy alone (TF's legacy bilinear resize written out).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import tensorflow as tf

CHANNELS = 8
EPSILON = 1e-3


def weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "conv": rng.normal(0, 0.3, (3, 3, 3, CHANNELS)).astype(np.float32),
        "mean": rng.normal(0, 0.1, CHANNELS).astype(np.float32),
        "variance": rng.uniform(0.5, 2.0, CHANNELS).astype(np.float32),
        "beta": rng.normal(0, 0.1, CHANNELS).astype(np.float32),
        "gamma": rng.uniform(0.5, 1.5, CHANNELS).astype(np.float32),
        "mixed": rng.normal(0, 0.3, (1, 1, CHANNELS, 2048)).astype(np.float32),
        "softmax": rng.normal(0, 0.05, (2048, 1008)).astype(np.float32),
        "bias": rng.normal(0, 1.0, 1008).astype(np.float32),
    }


def build_graph_def(w: dict[str, np.ndarray]) -> tf.compat.v1.GraphDef:
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, [], name="DecodeJpeg/contents")
        decoded = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        expanded = tf.expand_dims(tf.cast(decoded, tf.float32, name="Cast"), 0, name="ExpandDims")
        size = tf.constant([299, 299], name="ResizeBilinear/size")
        resized = tf.raw_ops.ResizeBilinear(images=expanded, size=size, align_corners=False, name="ResizeBilinear")
        scaled = tf.multiply(tf.subtract(resized, 128.0, name="Sub"), 1.0 / 128.0, name="Mul")
        conv = tf.nn.conv2d(scaled, tf.constant(w["conv"], name="conv/conv2d_params"), 2, "VALID", name="conv/Conv2D")
        for name in ("mean", "variance", "beta", "gamma"):
            tf.constant(w[name], name=f"conv/batchnorm/{name}")
        normalized = tf.identity(conv, name="conv/batchnorm")  # becomes the 2015 op below
        pooled = tf.nn.avg_pool2d(tf.nn.relu(normalized, name="conv"), 18, 18, "VALID", name="pool")
        mixed = tf.nn.relu(tf.nn.conv2d(pooled, tf.constant(w["mixed"], name="mixed/conv2d_params"), 1, "VALID"),
                           name="mixed")
        pool_3 = tf.nn.avg_pool2d(mixed, 8, 1, "VALID", name="pool_3")
        flat = tf.reshape(pool_3, [1, 2048], name="pool_3/_reshape")
        product = tf.matmul(flat, tf.constant(w["softmax"], name="softmax/weights"), name="softmax/logits/MatMul")
        logits = tf.nn.bias_add(product, tf.constant(w["bias"], name="softmax/biases"), name="softmax/logits")
        tf.nn.softmax(logits, name="softmax")
    graph_def = graph.as_graph_def()
    node = next(n for n in graph_def.node if n.name == "conv/batchnorm")
    node.op = "BatchNormWithGlobalNormalization"
    node.input[:] = ["conv/Conv2D", "conv/batchnorm/mean", "conv/batchnorm/variance", "conv/batchnorm/beta",
                     "conv/batchnorm/gamma"]
    node.attr["variance_epsilon"].f = EPSILON
    node.attr["scale_after_normalization"].b = True
    graph_def.versions.producer = 8
    graph_def.versions.min_consumer = 0
    return graph_def


def write_graph(path: Path, seed: int = 0) -> Path:
    path.write_bytes(build_graph_def(weights(seed)).SerializeToString())
    return path


def write_archive(path: Path, graph: Path) -> Path:
    """A ``.tgz`` laid out as ``inception-2015-12-05.tgz``: the graph beside a label file."""
    with tarfile.open(path, "w:gz") as archive:
        archive.add(graph, arcname="classify_image_graph_def.pb")
        labels = b"n00004475\torganism, being\n"
        info = tarfile.TarInfo("imagenet_synset_to_human_label_map.txt")
        info.size = len(labels)
        archive.addfile(info, io.BytesIO(labels))
    return path


def legacy_bilinear(pixels: np.ndarray, size: int = 299) -> np.ndarray:
    """TF's ResizeBilinear with align_corners=False, half_pixel_centers=False, in float64."""
    def axis(n_in):
        source = np.arange(size) * (n_in / size)
        low = np.floor(source).astype(int)
        return low, np.minimum(low + 1, n_in - 1), source - low

    y0, y1, dy = axis(pixels.shape[1])
    x0, x1, dx = axis(pixels.shape[2])
    p = pixels.astype(np.float64)
    top = p[:, y0][:, :, x0] + (p[:, y0][:, :, x1] - p[:, y0][:, :, x0]) * dx[None, None, :, None]
    bottom = p[:, y1][:, :, x0] + (p[:, y1][:, :, x1] - p[:, y1][:, :, x0]) * dx[None, None, :, None]
    return top + (bottom - top) * dy[None, :, None, None]


def numpy_network(pixels: np.ndarray, w: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(pool_3 features (B, 2048), pool_3 x softmax/weights (B, 1008)) for pixel values in [0, 255]
    (B, H, W, 3), with the graph's own resize, in float64."""
    x = (legacy_bilinear(pixels) - 128.0) / 128.0
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2]  # (B, 149, 149, 3, 3, 3)
    conv = np.einsum("bhwcij,ijco->bhwo", windows, w["conv"].astype(np.float64))
    scale = w["gamma"] / np.sqrt(w["variance"].astype(np.float64) + EPSILON)
    normalized = np.maximum((conv - w["mean"]) * scale + w["beta"], 0.0)
    b = normalized.shape[0]
    pooled = normalized[:, :144, :144].reshape(b, 8, 18, 8, 18, CHANNELS).mean(axis=(2, 4))
    mixed = np.maximum(np.einsum("bhwc,co->bhwo", pooled, w["mixed"][0, 0].astype(np.float64)), 0.0)
    features = mixed.mean(axis=(1, 2))
    return features, features @ w["softmax"].astype(np.float64)
