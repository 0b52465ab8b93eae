"""The standard Inception network of published IS and FID tables: the 2015 graph, run in TF 2.

``classify_image_graph_def.pb`` of ``inception-2015-12-05.tgz`` is the network of the original
Inception Score code (Salimans et al. 2016, ``openai/improved-gan``, ``inception_score/model.py``),
of TTUR's FID (Heusel et al. 2017, ``bioinf-jku/TTUR``, ``fid.py``) and, translated to PyTorch, of
StyleGAN2-ADA's and clean-fid's metrics. It is loaded here as a ``tf.compat.v1.GraphDef`` and
imported into a ``tf.compat.v1.wrap_function`` (no tensorflow-gan, no session), and fed as TTUR
feeds it:

* input: the tensor ``ExpandDims:0`` (the graph's decoded JPEG with a batch axis), float pixel
  values in [0, 255], (B, H, W, 3), any size: the graph itself resizes to 299x299 (its
  ``ResizeBilinear``, legacy TF bilinear without antialiasing) and maps to [-1, 1]
  (``Sub`` 128, ``Mul`` 1/128). With ``--resize clean`` the images arrive already at 299x299
  (``resize.clean_resize``) and that in-graph resize is the identity.
* features: ``pool_3:0``, (B, 1, 1, 2048), reshaped to (B, 2048).
* logits for the IS: ``pool_3`` times the weight matrix that the graph's ``softmax/logits/MatMul``
  multiplies by, 1008 classes, **without** the bias, as the original IS code computes them
  (StyleGAN2-ADA's ``no_output_bias`` and torch-fidelity's ``logits_unbiased`` do the same).
  The graph's own ``softmax`` cannot be used: its ``pool_3/_reshape`` fixes the batch at 1.

The graph's ``BatchNormWithGlobalNormalization`` nodes are rewritten into current ops first
(``graph_rewrite``). Google publishes no checksum for the archive; ``PUBLISHED_SHA256`` is the
SHA-256 of ``classify_image_graph_def.pb`` recorded by the Git LFS pointers of two independent
public copies of the file (Hugging Face repositories ``Martinser/eval_model`` and
``molinamarc/syntheva``, 95.7 MB). A file with another digest is used when asked for, with a
warning; the protocol records the digest of the file that was used.
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.metrics.graph_rewrite import ancestors, removed_ops, rewrite_batch_norm
from sagan_tf.evaluation.metrics.resize import CLEAN, CLEAN_DESCRIPTION, TF, check_mode, clean_resize, to_pixels

NETWORK = "inception-2015-12-05"
GRAPH_FILE = "classify_image_graph_def.pb"
PUBLISHED_SHA256 = "009d6814d1bc560d4e7b236e170e9b2d5ca6f4b57bd8037f6db05776204415c6"
INPUT = "ExpandDims:0"
FEATURES = "pool_3:0"
LOGITS_MATMUL = "softmax/logits/MatMul"
TF_DESCRIPTION = (
    "bilinear to 299x299 inside the graph (ResizeBilinear, align_corners=False, no antialiasing) "
    "of pixels (x + 1) * 127.5 fed to ExpandDims:0, as TTUR"
)


def read_graph_bytes(path: str | Path) -> bytes:
    """The bytes of the GraphDef at ``path``: a ``.pb`` file, or the ``classify_image_graph_def.pb``
    member of a ``.tgz`` archive (``inception-2015-12-05.tgz`` as downloaded)."""
    path = Path(path)
    if not path.is_file():
        raise SaganError(f"Inception graph not found: {path}")
    if tarfile.is_tarfile(path):
        try:
            with tarfile.open(path) as archive:
                member = next((m for m in archive.getmembers() if Path(m.name).name == GRAPH_FILE and m.isfile()), None)
                if member is None:
                    raise SaganError(f"{path} is an archive without {GRAPH_FILE}")
                return archive.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise SaganError(f"cannot read the archive {path}: {str(e).splitlines()[0][:200]}") from None
    return path.read_bytes()


def parse_graph(data: bytes, path) -> tf.compat.v1.GraphDef:
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError):
        raise SaganError(f"{path} is not a TensorFlow GraphDef (.pb)") from None
    if not graph_def.node:
        raise SaganError(f"{path} is not a TensorFlow GraphDef (.pb): it has no nodes")
    return graph_def


def weights_tensor(graph_def: tf.compat.v1.GraphDef, path) -> str:
    """The name of the logits' weight matrix (the second input of ``softmax/logits/MatMul``), after
    checking that the graph has the input, the features and that product."""
    nodes = {node.name: node for node in graph_def.node}
    missing = [name for name in (INPUT, FEATURES, f"{LOGITS_MATMUL}:0") if name.split(":")[0] not in nodes]
    matmul = nodes.get(LOGITS_MATMUL)
    if not missing and (matmul.op != "MatMul" or len(matmul.input) < 2):
        missing.append(f"{LOGITS_MATMUL} as a MatMul")
    if missing:
        raise SaganError(f"{path} has no {', '.join(missing)}: not the 2015 Inception graph ({GRAPH_FILE})")
    name = matmul.input[1]
    return name if ":" in name else f"{name}:0"


class InceptionGraphExtractor:
    """``extractor(images in [-1, 1]) -> (pool_3 features (B, 2048), logits (B, 1008))`` as numpy
    arrays, from the graph file at ``path`` (see the module docstring). ``sha256``: the digest the
    file must have (one error line otherwise); ``resize``: ``tf`` or ``clean`` (``resize``)."""

    has_logits = True

    def __init__(self, path: str | Path, sha256: str | None = None, resize: str = TF):
        self.resize = check_mode(resize)
        data = read_graph_bytes(path)
        self.sha256 = hashlib.sha256(data).hexdigest()
        if sha256 and self.sha256 != sha256.strip().lower():
            raise SaganError(f"the SHA-256 of {path} is {self.sha256}, not the expected {sha256.strip().lower()}")
        graph_def = parse_graph(data, path)
        weights = weights_tensor(graph_def, path)
        graph_def, _ = rewrite_batch_norm(graph_def)
        removed = removed_ops(graph_def, ancestors(graph_def, [FEATURES, weights], stop=[INPUT]))
        if removed:
            raise SaganError(f"{path} uses ops this TensorFlow cannot run: {', '.join(removed)}")
        if self.sha256 != PUBLISHED_SHA256:
            print(f"warning: {path} is not the published {GRAPH_FILE} (its SHA-256 is {self.sha256}, the "
                  f"published one {PUBLISHED_SHA256}): its numbers compare only with numbers of this file",
                  file=sys.stderr)
        self._run, self.dim, self.num_logits = self._wrap(graph_def, weights, path)
        suffix = "" if self.resize == TF else f"-{self.resize}"
        self.identity = f"{NETWORK}-{self.sha256[:16]}{suffix}"

    @staticmethod
    def _wrap(graph_def, weights: str, path):
        shapes = {}

        def forward(pixels):
            pool3, matrix = tf.compat.v1.import_graph_def(
                graph_def, input_map={INPUT: pixels}, return_elements=[FEATURES, weights], name="inception"
            )
            shapes["features"], shapes["weights"] = pool3.shape, matrix.shape
            features = tf.reshape(pool3, [-1, pool3.shape[-1]])
            return features, tf.matmul(features, matrix)

        try:
            run = tf.compat.v1.wrap_function(forward, [tf.TensorSpec([None, None, None, 3], tf.float32)])
        except (ValueError, TypeError, tf.errors.OpError) as e:
            raise SaganError(f"cannot import {path}: {str(e).splitlines()[0][:200]}") from None
        features, matrix = shapes["features"], shapes["weights"]
        if features.rank != 4 or features[-1] is None or matrix.rank != 2 or matrix[0] != features[-1]:
            raise SaganError(f"{path}: {FEATURES} {features} and the logits' weights {matrix} are not "
                             "(B, 1, 1, d) and (d, classes)")
        return run, int(features[-1]), int(matrix[1])

    def describe(self, image_size: tuple[int, int] | None = None) -> dict:
        """The network, the SHA-256 of its file, the feature dimension and how images are resized,
        for a result's ``protocol``."""
        return {
            "name": NETWORK,
            "weights": "file",
            "sha256": self.sha256,
            "dim": self.dim,
            "resize": CLEAN_DESCRIPTION if self.resize == CLEAN else TF_DESCRIPTION,
        }

    def pixels(self, images) -> tf.Tensor:
        """What is fed to ``ExpandDims:0`` for ``images`` in [-1, 1]."""
        if self.resize == CLEAN:
            return tf.constant(clean_resize(np.asarray(images)))
        return to_pixels(images)

    def __call__(self, images) -> tuple[np.ndarray, np.ndarray]:
        features, logits = self._run(self.pixels(images))
        return features.numpy(), logits.numpy()
