"""A session decides ``model.ops: auto`` for its devices, says so, keeps it per session in
``training.json`` and ``auto`` in ``config.yaml``; a resumed run may change the setting."""

import json

from sagan_tf.trainer import Trainer
from tests.helpers.cli import TINY


def test_auto_runs_the_fast_forms_here_and_a_resumed_run_may_change_them(tmp_path, tfds_dir, capfd):
    logdir = tmp_path / "run"
    capfd.readouterr()
    model = Trainer("fashion_mnist32", logdir, overrides=TINY, data_dir=tfds_dir, verbose=0).train(1)
    assert "ops auto: fast forms of the ops (CPU: the fast forms were measured faster there)" in capfd.readouterr().err
    assert str(model.generator.ops) == str(model.discriminator.ops) == "fast"
    assert "ops: auto" in (logdir / "config.yaml").read_text()

    model = Trainer(None, logdir, overrides=["model.ops=reference"], data_dir=tfds_dir, verbose=0).train(2)
    assert "ops " not in capfd.readouterr().err  # an explicit setting is not announced
    assert str(model.generator.ops) == "reference" and int(model.step.numpy()) == 2
    sessions = json.loads((logdir / "training.json").read_text())["sessions"]
    assert [s["ops"] for s in sessions] == ["fast", "reference"]
    assert "ops: reference" in (logdir / "config.yaml").read_text()
