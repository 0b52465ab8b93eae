"""The best checkpoints of a run (``runs.best``, ``runs.choice``): which steps a metric sequence keeps,
against a plain sort of that sequence; what each kept checkpoint holds; resume, rotation, and runs
that kept one best-FID checkpoint in ``best_fid/``."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.errors import CheckpointError, ConfigError
from sagan_tf.runs.best import BEST_DIR, LEDGER_FILE, BestCheckpoints, read_ledger
from sagan_tf.runs.checkpointing import Checkpointer, read_variables, variables_by_path
from sagan_tf.runs.choice import choose_checkpoint
from sagan_tf.training.builders import build_sagan
from sagan_tf.training.ema import SHADOW_NAME
from tests.helpers.training import tiny_config

MARKER = "generator"  # the network whose first variable carries the step in these tests


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_sagan(tiny_config())


def new_run(tmp_path, model):
    logdir = tmp_path / "run"
    logdir.mkdir()
    config_lib.save(tiny_config(), logdir / "config.yaml")
    return logdir


def mark(model, step):
    """Sets G's first variable to ``step`` everywhere: the checkpoint of a step says which it is."""
    first = model.generator.variables[0]
    first.assign(np.full(first.shape, step, np.float32))


def marker(model, path):
    """The step ``mark`` wrote into the checkpoint ``path``."""
    first = model.generator.variables[0].path.split("/", 1)[-1]
    return float(np.unique(read_variables(path, MARKER)[first])[0])


def kept_steps(logdir):
    return sorted(int(p.name.split("-")[1].split(".")[0]) for p in (logdir / BEST_DIR).glob("ckpt-*.index"))


@pytest.mark.parametrize("metric, values", [
    ("fid", [5.0, 3.0, 7.0, 2.0, 4.0, 2.5, 9.0]),
    ("precision", [0.1, 0.5, 0.3, 0.9, 0.2, 0.6, 0.05]),
])
def test_the_k_best_of_a_metric_sequence_are_kept_best_first(metric, values, model, tmp_path, capsys):
    logdir = new_run(tmp_path, model)
    best = BestCheckpoints(model, logdir, metric, keep=3)
    higher = metric == "precision"
    for step, value in enumerate(values, 1):
        mark(model, step)
        best.offer(step, {metric: value, "other": 0.0})
    # Independent: the steps of the 3 best values, best first.
    order = sorted(range(len(values)), key=lambda i: -values[i] if higher else values[i])[:3]
    expected = [(i + 1, values[i]) for i in order]
    ledger = json.loads((logdir / BEST_DIR / LEDGER_FILE).read_text())
    assert ledger["metric"] == metric and ledger["better"] == ("higher" if higher else "lower")
    assert [(e["step"], e["value"]) for e in ledger["checkpoints"]] == expected
    assert kept_steps(logdir) == sorted(s for s, _ in expected)  # the others were deleted
    for step, _ in expected:  # each kept checkpoint holds the weights of its step, EMA and D too
        path = str(logdir / BEST_DIR / f"ckpt-{step}")
        assert marker(model, path) == step
        assert read_variables(path, SHADOW_NAME) and read_variables(path, "discriminator")

    chosen = choose_checkpoint(logdir, "best")
    step, value = expected[0]
    assert chosen.step == step and chosen.path == str(logdir / BEST_DIR / f"ckpt-{step}")
    assert chosen.reason == f"best by {metric} = {value:.4g} at step {step} of 3 kept"
    assert choose_checkpoint(logdir, str(expected[2][0])).reason.endswith(f"number 3 by {metric} = "
                                                                          f"{expected[2][1]:.4g} at step {expected[2][0]} of 3 kept")

    # Resumed: the ledger goes on; a worse value is not kept, a better one drops the third.
    again = BestCheckpoints(model, logdir, metric, keep=3)
    worst = min(values) - 1 if higher else max(values) + 1
    mark(model, 20)
    assert not again.offer(20, {metric: worst})
    top = max(values) + 1 if higher else min(values) - 1
    mark(model, 21)
    assert again.offer(21, {metric: top})
    assert [e["step"] for e in read_ledger(logdir).entries] == [21, expected[0][0], expected[1][0]]
    assert kept_steps(logdir) == sorted([21, expected[0][0], expected[1][0]])
    assert marker(model, choose_checkpoint(logdir, "best").path) == 21
    capsys.readouterr()
    assert not again.offer(22, {"fid_other": 1.0})
    assert f"log.best_metric {metric} was not measured at step 22" in capsys.readouterr().err


def test_rotation_of_the_latest_checkpoints_never_removes_a_best_one(model, tmp_path):
    logdir = new_run(tmp_path, model)
    model.compile(g_optimizer=keras.optimizers.Adam(), d_optimizer=keras.optimizers.Adam())
    checkpointer = Checkpointer(model, str(logdir / "checkpoints"), keep=1)
    best = BestCheckpoints(model, logdir, "kid", keep=2)
    for step, kid in zip((1, 2, 3, 4), (0.5, 0.9, 0.8, 0.7), strict=True):
        mark(model, step)
        checkpointer.save(step)
        best.offer(step, {"kid": kid})
    assert [p.name for p in (logdir / "checkpoints").glob("*.index")] == ["ckpt-4.index"]
    assert kept_steps(logdir) == [1, 4]
    assert marker(model, choose_checkpoint(logdir, "1").path) == 1  # a step found among the best
    assert choose_checkpoint(logdir, "latest").reason == "latest, step 4"
    with pytest.raises(CheckpointError, match=r"no checkpoint of step 2 \(steps kept: 1, 4\)"):
        choose_checkpoint(logdir, "2")


def test_a_run_with_a_best_fid_directory_keeps_working(model, tmp_path, capsys):
    """What runs kept before ``best/``: one checkpoint in ``best_fid/`` (a ``CheckpointManager``'s)
    and ``best_fid.json``."""
    logdir = new_run(tmp_path, model)
    mark(model, 7)
    objects = {"generator": variables_by_path(model.generator), "discriminator": variables_by_path(model.discriminator),
               SHADOW_NAME: variables_by_path(model.ema.generator)}
    tf.train.CheckpointManager(tf.train.Checkpoint(**objects), str(logdir / "best_fid"), max_to_keep=1).save(7)
    (logdir / "best_fid" / "best_fid.json").write_text(json.dumps({"step": 7, "fid": 12.5}) + "\n")

    chosen = choose_checkpoint(logdir, "best")
    assert chosen.path == str(logdir / "best_fid" / "ckpt-7") and marker(model, chosen.path) == 7
    assert chosen.reason == "best by fid = 12.5 at step 7 of 1 kept"
    assert "reading it as the best by fid" in capsys.readouterr().err

    BestCheckpoints(model, logdir, "kid", keep=2)  # ranked by another metric: not adopted
    assert read_ledger(logdir).legacy
    resumed = BestCheckpoints(model, logdir, "fid", keep=2)  # a resumed run ranking by FID copies it in
    assert "now kept in best/" in capsys.readouterr().err
    assert [(e["step"], e["value"]) for e in resumed.ledger.entries] == [(7, 12.5)]
    assert marker(model, choose_checkpoint(logdir, "best").path) == 7 and kept_steps(logdir) == [7]
    mark(model, 8)
    assert resumed.offer(8, {"fid": 13.0}) and [e["step"] for e in read_ledger(logdir).entries] == [7, 8]


def test_best_metric_is_checked_when_the_config_loads():
    assert config_lib.higher_is_better("fid") is False and config_lib.higher_is_better("kid") is False
    for name in ("is", "precision", "recall", "density", "coverage", "precision/3"):
        assert config_lib.higher_is_better(name) is True, name
    assert config_lib.higher_is_better("fid_class_2") is False
    for overrides, message in [
        (["log.best_metric=sharpness"], "must name a measured metric"),
        (["log.best_metric=kid", "log.fid_metrics=[fid,is]"], "which log.fid_metrics"),
        (["log.keep_best=0"], "'log.keep_best' must be positive"),
    ]:
        with pytest.raises(ConfigError, match=message):
            config_lib.load("fashion_mnist32", overrides)
    cfg = config_lib.load("fashion_mnist32", ["log.best_metric=coverage", "log.keep_best=5"])
    assert (cfg.log.best_metric, cfg.log.keep_best) == ("coverage", 5)
