"""The package as users install it: a wheel (and an editable install) in a fresh virtual environment,
its console commands run from an unrelated directory with a built-in config named by its name, and
sagan-explore serving its page from the installed files.

The default tests reuse this interpreter's installed dependencies: the new environment reads this
interpreter's site-packages after its own (``inherit_packages``: a ``.pth`` file, which works
whether this interpreter is a virtual environment's, as after the README's ``pip install -r
requirements.txt``, or the system's; ``--system-site-packages`` would see the base interpreter's
packages, not a virtual environment's), so pip resolves the wheel's requirements against them and
installs only sagan-tf. The wheel is built from a copy of the sources in a temporary directory: no
test writes into the checkout. The slow test installs everything from the package index into an
isolated environment.
"""

import os
import shutil
import site
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


def inherit_packages(bin_dir: Path) -> None:
    """The environment of ``bin_dir`` reads this interpreter's site-packages after its own (their
    ``.pth`` files too: an editable install, ``site.addsitedir``)."""
    own = run([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], bin_dir)
    lines = [f"import site; site.addsitedir({path!r})\n" for path in site.getsitepackages()]
    (Path(own.stdout.strip()) / "_inherited_site_packages.pth").write_text("".join(lines))


def make_venv(path: Path, system_site_packages: bool) -> Path:
    """A new virtual environment; ``system_site_packages``: it also reads this interpreter's
    packages (``inherit_packages``)."""
    venv.EnvBuilder(with_pip=True).create(path)
    bin_dir = path / "bin"
    bundled = list(path.glob("lib/python*/site-packages/setuptools"))  # ensurepip's, on Python 3.11
    if system_site_packages:
        if bundled:  # builds use this interpreter's setuptools (pyproject.toml's), offline
            run([str(bin_dir / "python"), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], path)
        inherit_packages(bin_dir)
    return bin_dir


def source_copy(target: Path) -> Path:
    """The files git tracks (as they are in the working tree, untracked new ones too), copied to
    ``target``: a build there leaves the checkout as it was."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return source_copy(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, source) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(out), "-q"],
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
def test_installed_commands_run_from_any_directory(tmp_path, source, wheel, tfds_dir, editable):
    bin_dir = make_venv(tmp_path / "venv", system_site_packages=True)
    target = ["-e", str(source)] if editable else [str(wheel)]  # the editable one of a copy: the checkout stays as it is
    run([str(bin_dir / "python"), "-m", "pip", "install", "--no-build-isolation", "-q", *target], tmp_path)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    location = train_and_sample_from_elsewhere(bin_dir, workdir, tfds_dir)
    serve_explore_page(bin_dir, workdir, clean_env(bin_dir, tfds_dir))
    if editable:
        assert location == str(source / "sagan_tf" / "__init__.py")
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
