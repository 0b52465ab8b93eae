"""The repository copied anywhere passes its data tests by itself: no data folder beside it, no
``SAGAN_SHARED_DATA``, no prepared TFDS directory and no network (TFDS downloads go to a closed port).

Slow: it copies the repository and runs pytest again in it (about a minute).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.helpers.cli import OFFLINE

# What a clone has: the files git tracks, and the new ones it would track.
IGNORED = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".pytest_cache", "runs", "*.egg-info", "build")
DATA_TESTS = ("tests/data", "tests/cli/test_train.py::test_an_unprepared_dataset_offline_fails_with_one_line")


def copy_repository(to: Path) -> Path:
    if (REPO / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                                capture_output=True, check=True).stdout.decode().split("\0")
        for name in filter(None, listed):
            if (REPO / name).is_file():
                (to / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, to / name)
    else:
        shutil.copytree(REPO, to, ignore=IGNORED, dirs_exist_ok=True)
    return to


@pytest.mark.slow
def test_data_tests_pass_in_a_copy_with_no_data_beside_it_and_no_network(tmp_path):
    clone = copy_repository(tmp_path / "elsewhere" / "sagan_tf")
    assert not (clone.parent.parent / "shared").exists() and not (clone.parent / "shared").exists()
    empty_tfds = tmp_path / "tensorflow_datasets"
    empty_tfds.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("SAGAN_SHARED_DATA", "PYTHONPATH")}
    env.update(OFFLINE, PYTHONPATH=str(clone), TFDS_DATA_DIR=str(empty_tfds), HOME=str(tmp_path / "home"),
               TF_CPP_MIN_LOG_LEVEL="3")

    imported = subprocess.run([sys.executable, "-c", "import sagan_tf; print(sagan_tf.__file__)"], cwd=clone,
                              env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(imported).is_relative_to(clone), imported  # the copy's package, not an installed one

    result = subprocess.run([sys.executable, "-m", "pytest", *DATA_TESTS],
                            cwd=clone, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "error" not in summary, summary
    assert not any(empty_tfds.iterdir()), "a test prepared data in TFDS_DATA_DIR instead of its own directory"
