"""Where a Vertex AI custom job wants the run's outputs, read without TensorFlow.

A ``CustomJob`` with ``baseOutputDirectory`` gives every replica three Cloud Storage directories:
``AIP_CHECKPOINT_DIR`` (``<base>/checkpoints/``), ``AIP_TENSORBOARD_LOG_DIR`` (``<base>/logs/``,
which Vertex AI TensorBoard uploads from) and ``AIP_MODEL_DIR`` (``<base>/model/``). The cluster
itself comes as ``TF_CONFIG`` (``--cluster tf_config``), so only the outputs are read here:

* ``AIP_CHECKPOINT_DIR`` is the run directory (``config.yaml``, ``checkpoints/``, ``training.json``,
  the lock), unless ``--logdir`` is given;
* ``AIP_TENSORBOARD_LOG_DIR`` receives the TensorBoard events, unless ``--logdir`` is given (the
  events then go to ``LOGDIR/train`` as everywhere else);
* ``AIP_MODEL_DIR`` receives the exported generator (a SavedModel) at the end of training,
  ``<AIP_MODEL_DIR>/1/`` (TF Serving's version layout), with or without ``--logdir``: it is not part
  of the run directory (``sagan_tf.serving.final_export``).

Vertex AI mounts Cloud Storage at ``/gcs`` (Cloud Storage FUSE), and the trainer writes files there:
``gs://BUCKET/PATH`` becomes ``/gcs/BUCKET/PATH``. Outside Vertex AI none of the variables is set
and nothing changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from sagan_tf.errors import ConfigError

CHECKPOINT_DIR = "AIP_CHECKPOINT_DIR"
TENSORBOARD_DIR = "AIP_TENSORBOARD_LOG_DIR"
MODEL_DIR = "AIP_MODEL_DIR"
FUSE_ROOT = "/gcs"  # where Vertex AI mounts every Cloud Storage bucket the job may read


@dataclasses.dataclass(frozen=True)
class Outputs:
    """``logdir``: the run directory; ``summary_dir``: the TensorBoard events (None: ``LOGDIR/train``);
    ``export_dir``: where the generator is exported at the end of training (None: not exported)."""

    logdir: str | None
    summary_dir: str | None = None
    export_dir: str | None = None


def local_path(name: str, uri: str) -> str:
    """``uri`` as a path the trainer can write: ``gs://BUCKET/PATH`` -> ``/gcs/BUCKET/PATH`` (Vertex
    AI's Cloud Storage FUSE mount); a path is kept as it is. ``name``: the variable, for the error."""
    uri = uri.strip()
    if uri.startswith("gs://"):
        bucket_and_path = uri[len("gs://"):].strip("/")
        if not bucket_and_path:
            raise ConfigError(f"{name}={uri!r} names no Cloud Storage bucket")
        return f"{FUSE_ROOT}/{bucket_and_path}"
    if "://" in uri:
        raise ConfigError(f"{name}={uri!r}: only gs:// URIs and paths can be written (Vertex AI mounts gs:// at /gcs)")
    return uri.rstrip("/") or uri


def _variable(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return local_path(name, value) if value else None


def outputs(logdir: str | None, environ: Mapping[str, str]) -> Outputs:
    """The run's outputs: an explicit ``logdir`` (``--logdir``) wins over ``AIP_CHECKPOINT_DIR`` and
    ``AIP_TENSORBOARD_LOG_DIR``; ``AIP_MODEL_DIR`` is honoured either way."""
    export_dir = _variable(environ, MODEL_DIR)
    if logdir is not None:
        return Outputs(logdir=logdir, export_dir=export_dir)
    return Outputs(
        logdir=_variable(environ, CHECKPOINT_DIR), summary_dir=_variable(environ, TENSORBOARD_DIR), export_dir=export_dir
    )
