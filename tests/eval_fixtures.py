"""Session fixtures for the evaluation tests: a tiny feature model and a tiny trained run.

Both are made by the project's own command-line tools (in-process, to share the loaded TensorFlow):
``sagan_tf.tools.train_feature_model`` and ``sagan_tf.train`` with in-training FID, EMA and
attention images switched on.
"""

import pytest

from tests.conftest import REPO

TINY_RUN_STEPS = 6

# Test modules import these fixtures, and pytest registers an imported session fixture once per
# module; this cache makes the session share one feature model and one run.
_made: dict = {}


def run_main(main, argv):
    """Calls a CLI ``main``; returns its exit status (0, or the ``SystemExit`` code)."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


@pytest.fixture(scope="session")
def feature_model(tmp_path_factory, tfds_dir):
    from sagan_tf.tools.train_feature_model import main

    if "feature_model" in _made:
        return _made["feature_model"]
    path = tmp_path_factory.mktemp("feature") / "fmnist.keras"
    argv = ["--config", str(REPO / "configs/fashion_mnist32.yaml"), "--out", str(path), "--data-dir", tfds_dir,
            "--epochs", "1", "--steps-per-epoch", "4", "--batch-size", "32", "--eval-images", "100",
            "--set", "data.shuffle_buffer=64"]
    assert run_main(main, argv) == 0
    _made["feature_model"] = str(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tfds_dir, feature_model):
    """(logdir, stats cache dir) of a 6-step run with FID every 3 steps (feature model) and EMA."""
    from sagan_tf.train import main

    if "tiny_run" in _made:
        return _made["tiny_run"]
    root = tmp_path_factory.mktemp("evalrun")
    logdir, cache = root / "run", root / "stats"
    argv = ["--config", str(REPO / "configs/fashion_mnist32.yaml"), "--logdir", str(logdir), "--data-dir", tfds_dir,
            "--steps", str(TINY_RUN_STEPS), "--verbose", "0", "--set",
            "model.ch=4", "model.z_dim=16", "train.precision=float32", "train.batch_size=8", "train.ema_start=2", "train.ema_decay=0.5",
            "log.scalars_every=3", "log.samples_every=3", "log.checkpoint_every=3", "log.attention_every=3",
            "log.fid_every=3", "log.fid_samples=40", f"eval.feature_model={feature_model}", "eval.num_real=200",
            "eval.split=test", f"eval.stats_cache={cache}", "eval.batch_size=50", "data.shuffle_buffer=64"]
    assert run_main(main, argv) == 0
    _made["tiny_run"] = logdir, cache
    return logdir, cache
