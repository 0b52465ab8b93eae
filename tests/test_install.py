"""The package as users install it: a wheel (and an editable install) in a fresh virtual environment,
its console commands run from an unrelated directory with a built-in config named by its name, and
sagan-explore serving its page from the installed files.

The default tests reuse this interpreter's installed dependencies (``--system-site-packages``: pip
resolves the wheel's requirements against them and installs only sagan-tf); the slow one installs
everything from the package index into an isolated environment.
"""

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.helpers.cli import TINY

COMMANDS = (
    "sagan-train", "sagan-sample", "sagan-evaluate", "sagan-visualize", "sagan-export", "sagan-explore",
    "sagan-train-feature-model",
)
EXPLORE_PAGE = ("index.html", "explore.js", "explore.css")


def run(args, cwd, env=None, timeout=900):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def make_venv(path: Path, system_site_packages: bool) -> Path:
    venv.EnvBuilder(with_pip=True, system_site_packages=system_site_packages).create(path)
    bin_dir = path / "bin"
    bundled = list(path.glob("lib/python*/site-packages/setuptools"))  # ensurepip's, on Python 3.11
    if system_site_packages and bundled:  # builds use this interpreter's setuptools (pyproject.toml's), offline
        run([str(bin_dir / "python"), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], path)
    return bin_dir


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-w", str(out), "-q"],
        cwd=out)
    (path,) = out.glob("sagan_tf-*.whl")
    return path


def clean_env(bin_dir: Path, tfds_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", TFDS_DATA_DIR=tfds_dir, TF_CPP_MIN_LOG_LEVEL="3")
    return env


def train_and_sample_from_elsewhere(bin_dir: Path, workdir: Path, tfds_dir: str) -> None:
    """sagan-train with a built-in config name, then sagan-sample, from a directory outside the repo."""
    env = clean_env(bin_dir, tfds_dir)
    where = run([str(bin_dir / "python"), "-c", "import sagan_tf, sys; print(sagan_tf.__file__)"], workdir, env)
    for command in COMMANDS:
        assert (bin_dir / command).exists(), command
    run([str(bin_dir / "sagan-train"), "--help"], workdir, env)
    run([str(bin_dir / "sagan-train"), "--config", "fashion_mnist32", "--logdir", "run", "--steps", "2",
         "--verbose", "0", "--set", *TINY], workdir, env)
    assert (workdir / "run" / "checkpoints" / "ckpt-2.index").exists()
    run([str(bin_dir / "sagan-sample"), "--logdir", "run", "--out", "grid.png", "--n", "2"], workdir, env)
    assert (workdir / "grid.png").stat().st_size > 0
    return where.stdout.strip()


def test_the_wheel_holds_the_explore_page(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for name in EXPLORE_PAGE:
        assert f"sagan_tf/explore/static/{name}" in names, name


def test_the_wheel_holds_every_module_and_config(wheel):
    """Checked by name: the installs below cannot see a missing subpackage, because this interpreter's
    editable install (system site-packages) finds it in the checkout."""
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "sagan_tf").rglob("*.py")}
    configs = {f"sagan_tf/configs/{p.relative_to(REPO / 'configs').as_posix()}" for p in (REPO / "configs").rglob("*.yaml")}
    assert modules and configs
    assert sorted(modules - names) == [] and sorted(configs - names) == []


def serve_explore_page(bin_dir: Path, workdir: Path, env: dict) -> None:
    """The installed sagan-explore serves its page and every file the page loads."""
    from tests.helpers.explore import command_serving, get

    with command_serving([str(bin_dir / "sagan-explore"), "--logdir", "run", "--port", "0"], workdir, env) as (url, _):
        for name in EXPLORE_PAGE:
            status, body, _ = get(url + ("" if name == "index.html" else f"static/{name}"))
            assert status == 200 and len(body) > 1000, name


# The editable install is the one every other test runs on; in CI only the wheel is installed again.
@pytest.mark.parametrize("editable", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["wheel", "editable"])
def test_installed_commands_run_from_any_directory(tmp_path, wheel, tfds_dir, editable):
    bin_dir = make_venv(tmp_path / "venv", system_site_packages=True)
    target = ["-e", str(REPO)] if editable else [str(wheel)]
    run([str(bin_dir / "python"), "-m", "pip", "install", "--no-build-isolation", "-q", *target], tmp_path)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    location = train_and_sample_from_elsewhere(bin_dir, workdir, tfds_dir)
    serve_explore_page(bin_dir, workdir, clean_env(bin_dir, tfds_dir))
    if editable:
        assert location == str(REPO / "sagan_tf" / "__init__.py")
    else:
        assert location.startswith(str(tmp_path / "venv")), location


@pytest.mark.slow
def test_wheel_installs_with_its_dependencies_into_an_isolated_environment(tmp_path, wheel, tfds_dir):
    """Every runtime dependency comes from the wheel's metadata (takes minutes: downloads TensorFlow)."""
    bin_dir = make_venv(tmp_path / "venv", system_site_packages=False)
    run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], tmp_path, timeout=1800)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    train_and_sample_from_elsewhere(bin_dir, workdir, tfds_dir)
