"""Fine-tuning (``train.init_from``, ``sagan-train --init-from``, ``train.freeze_d``): a 10-class run
started on a 3-class folder, against the source checkpoint as TensorFlow's reader reads it."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.errors import ConfigError
from sagan_tf.runs.checkpointing import read_variables, variables_by_path
from sagan_tf.runs.run_dir import latest_checkpoint
from sagan_tf.trainer import Trainer
from sagan_tf.trainer.init_from import find_source, initialize, is_class_dependent
from sagan_tf.training.builders import build_sagan
from sagan_tf.training.ema import SHADOW_NAME
from tests.helpers import REPO
from tests.helpers.data import write_pngs
from tests.helpers.training import fake_batch, tiny_config

# The session's tiny run (fashion_mnist32, 10 classes, ch 4, z_dim 16) on a folder of 3 classes.
FOLDER = ["data.source=folder", "data.num_classes=auto", "data.label_key=null", "data.split=train",
          "data.shuffle_buffer=16", "model.ch=4", "model.z_dim=16", "train.precision=float32", "train.batch_size=4",
          "train.ema_start=0", "log.scalars_every=1", "log.samples_every=100", "log.checkpoint_every=2",
          "log.attention_every=0"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("three") / "images"
    write_pngs(root, {"ankle": 4, "bag": 4, "coat": 4}, size=28, mode="L")
    return root


def folder_config(folder):
    return config_lib.load(REPO / "configs/fashion_mnist32.yaml", [*FOLDER, f"data.path={folder}", "data.num_classes=3"])


def test_shared_weights_start_equal_to_the_source_and_class_weights_are_new(tiny_run, folder, capsys):
    logdir, _ = tiny_run
    keras.utils.set_random_seed(5)
    model = build_sagan(folder_config(folder))
    targets = {"generator": model.generator, "discriminator": model.discriminator, SHADOW_NAME: model.ema.generator}
    initial = {(n, p): v.numpy().copy() for n, net in targets.items() for p, v in variables_by_path(net).items()}
    notes = initialize(model, find_source(str(logdir)), 3)
    checkpoint = latest_checkpoint(logdir)
    fresh = []
    for network, net in targets.items():
        stored = read_variables(checkpoint, network)
        for path, variable in variables_by_path(net).items():
            if is_class_dependent(path):
                fresh.append(path)
                np.testing.assert_array_equal(variable.numpy(), initial[network, path])  # this run's own draw
                if "embeddings" in path and path.startswith("block"):
                    assert variable.shape[0] == 3 and stored[path].shape[0] == 10
            else:
                np.testing.assert_array_equal(variable.numpy(), stored[path], err_msg=f"{network}/{path}")
    assert len(fresh) == 2 * (12 + 2) + 2  # G and EMA: 6 CBN x gamma, beta; D: sn_embedding kernel and u
    (note,) = notes
    assert note.startswith("10 classes there, 3 here: re-initialised generator/block0_8/cbn1/gamma")
    assert "discriminator/sn_embedding/embedding" in note


def test_a_fine_tuned_run_trains_records_its_source_and_resumes(tiny_run, folder, tmp_path, capsys):
    source, _ = tiny_run
    logdir = tmp_path / "tuned"
    trainer = Trainer(REPO / "configs/fashion_mnist32.yaml", logdir, overrides=[*FOLDER, f"data.path={folder}",
                      "train.freeze_d=1"], init_from=source, verbose=0)
    model = trainer.train(2)
    err = capsys.readouterr().err
    assert f"initialised from {latest_checkpoint(source)} (optimizer state fresh, step 0)" in err
    assert "re-initialised" in err and int(model.step.numpy()) == 2
    assert config_lib.load(logdir / "config.yaml").train.init_from == str(source)
    record = json.loads((logdir / "training.json").read_text())
    assert record["sessions"][0]["init_from"] == latest_checkpoint(source)
    # FreezeD: D's first block and the attention after it are still the source's, u included.
    stored = read_variables(latest_checkpoint(source), "discriminator")
    for path, variable in variables_by_path(model.discriminator).items():
        if path.startswith(("block0_", "attention_16")):
            np.testing.assert_array_equal(variable.numpy(), stored[path], err_msg=path)
    moved = [p for p, v in variables_by_path(model.discriminator).items()
             if p.startswith("block1_") and not np.array_equal(v.numpy(), stored[p])]
    assert moved
    again = Trainer(None, logdir, overrides=["train.steps=4"], verbose=0).train()
    assert int(again.step.numpy()) == 4 and "resuming from" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="already has checkpoints, so it resumes from its own"):
        Trainer(None, logdir, init_from=source, verbose=0).train(6)


def test_anything_but_the_class_count_that_differs_is_one_error(tiny_run, folder):
    logdir, _ = tiny_run
    cfg = config_lib.load(REPO / "configs/fashion_mnist32.yaml", [*FOLDER, f"data.path={folder}", "data.num_classes=3",
                                                                   "model.ch=8"])
    model = build_sagan(cfg)
    before = model.generator.variables[0].numpy().copy()
    with pytest.raises(ConfigError, match=r"generator variable \S+ is \(\d+, \d+\) there and \(\d+, \d+\) here"):
        initialize(model, find_source(str(logdir)), 3)
    np.testing.assert_array_equal(model.generator.variables[0].numpy(), before)  # nothing assigned


def test_freeze_d_keeps_the_first_blocks_and_their_u():
    keras.utils.set_random_seed(0)
    model = build_sagan(tiny_config(freeze_d=2))
    names = sorted({v.path.split("/")[1] for v in model.frozen_d})
    assert names == ["attention_16", "block0_16", "block1_8"]
    before = {v.path: v.numpy().copy() for v in model.discriminator.variables}
    tf.function(model.train_step)(fake_batch(8))
    for v in model.discriminator.variables:
        same = np.array_equal(v.numpy(), before[v.path])
        assert same == (v.path.split("/")[1] in names) or "bias" in v.path, v.path
    with pytest.raises(ConfigError, match="'train.freeze_d' is 9, but D has 4 blocks"):
        build_sagan(tiny_config(freeze_d=9))
