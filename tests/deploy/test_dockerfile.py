"""``deploy/Dockerfile`` (not built in these tests: no container engine here): a Python the package
supports, the TensorFlow version the development install pins, and only files that exist."""

import re
import tomllib

from tests.helpers import REPO
from tests.helpers.deploy import DEPLOY

DOCKERFILE = DEPLOY / "Dockerfile"


def instructions():
    """(instruction, arguments) of each line of the Dockerfile, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_the_base_image_is_a_python_the_package_supports():
    (base,) = [args for name, args in instructions() if name == "FROM"]
    version = re.fullmatch(r"python:(3\.\d+)-slim", base).group(1)
    classifiers = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["classifiers"]
    assert f"Programming Language :: Python :: {version}" in classifiers


def test_it_installs_the_pinned_tensorflow_with_its_cuda_libraries_and_the_package():
    (install,) = [args for name, args in instructions() if name == "RUN"]
    pinned = re.search(r"^tensorflow==(\S+)", (REPO / "requirements.txt").read_text(), re.MULTILINE).group(1)
    assert f'"tensorflow[and-cuda]=={pinned}" .' in install and "sagan-train --help" in install


def test_it_copies_what_pip_needs_to_build_the_package():
    copied = [word for name, args in instructions() if name == "COPY" for word in args.split()[:-1]]
    assert set(copied) >= {"pyproject.toml", "README.md", "LICENSE", "configs", "sagan_tf"}
    assert all((REPO / path).exists() for path in copied)
