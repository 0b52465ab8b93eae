"""Our first screen: a verb's stderr on a CPU machine holds its own lines, not TensorFlow's C++
start-up lines (``cli.tf_logs``), unless ``--tf-logs`` or the user's ``TF_CPP_MIN_LOG_LEVEL`` asks."""

import os
import subprocess
import sys

from sagan_tf import pretrained
from sagan_tf.cli import tf_logs
from tests.helpers import REPO

CPP_PREFIXES = ("E0000", "I0000", "W0000", "WARNING: All log messages")
SHIPPED = pretrained.directory("fashion_mnist32")


def sample(tmp_path, *extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = tmp_path / "grid.png"
    result = subprocess.run([sys.executable, "-m", "sagan_tf.cli.sample", "--pretrained", "fashion_mnist32", "--out",
                             str(out), "--classes", "0", "--n", "1", *extra],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr.splitlines(), out


def test_a_verb_shows_its_own_lines_only(tmp_path):
    lines, out = sample(tmp_path)
    assert lines == [f"wrote {out}: 1 rows x 1 from {SHIPPED} (generator_ema of ckpt-5000: latest, step 5000) (T-shirt/top)"]


def test_tf_logs_shows_tensorflows_lines(tmp_path):
    lines, out = sample(tmp_path, "--tf-logs")
    assert any(line.startswith(CPP_PREFIXES) for line in lines)  # what the default keeps off the screen
    assert lines[-1] == f"wrote {out}: 1 rows x 1 from {SHIPPED} (generator_ema of ckpt-5000: latest, step 5000) (T-shirt/top)"


def test_the_users_own_level_is_kept(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    finders = list(sys.meta_path)
    tf_logs.quiet([])
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0" and sys.meta_path == finders


def test_only_tensorflows_cpp_lines_are_dropped(tmp_path):
    """What ``filtered_stderr`` keeps, written by a child process to its file descriptor 2."""
    code = ("import os\nfrom sagan_tf.cli.tf_logs import filtered_stderr\nwith filtered_stderr():\n"
            "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n'"
            " b'I0000 00:00:1796638928.038068   10930 port.cc:153] oneDNN custom operations are on.\\n'"
            " b'E0000 00:00:1796638932.609868   10930 cuda_platform.cc:52] failed call to cuInit\\n'"
            " b'warning: ours\\nI0000 is a word here\\n')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.stderr == "warning: ours\nI0000 is a word here\n"
