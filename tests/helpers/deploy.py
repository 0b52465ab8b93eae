"""Reading the files of deploy/ in tests: YAML documents, Kubernetes schema validation, and the
``sagan-train`` command of a container as the trainer's own argument parser reads it."""

import os
from pathlib import Path
from unittest import mock

import kubernetes_validate
import yaml

from tests.helpers import REPO
from tests.helpers.cli import sagan_train_arguments

DEPLOY = REPO / "deploy"
# The oldest Kubernetes the manifests name (Indexed Jobs' pod hostnames, podFailurePolicy, the
# batch.kubernetes.io/job-name label) and the newest whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())


def documents(path: Path) -> list[dict]:
    """Every YAML document of ``path``."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def validate(resource: dict) -> None:
    """Validates ``resource`` against the strict JSON schema of its kind (unknown fields are errors)
    for each of ``KUBERNETES_VERSIONS``; raises ``kubernetes_validate.ValidationError``."""
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(resource, version, strict=True)


def trainer_args(command: list[str], env: dict[str, str] | None = None):
    """``command`` (``sagan-train`` and its arguments) parsed by ``sagan-train``'s own parser, in an
    environment of ``env`` alone (no Vertex AI or cluster variables of the machine running the tests)."""
    assert command[0] == "sagan-train", command
    with mock.patch.dict(os.environ, env or {}, clear=True):
        return sagan_train_arguments(command[1:])
