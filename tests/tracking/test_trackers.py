"""The experiment trackers of ``log.trackers``: TensorBoard, MLflow and W&B receive the same scalars,
the config and the pictures, a resumed run goes on in the same tracker run, and a tracker that cannot
be used stops the run at the start with one line. MLflow and W&B are the real clients, offline: an
SQLite store under the test's directory, W&B in offline mode read back from its files."""

import io
import json
import sys

import numpy as np
import pytest
from PIL import Image

from sagan_tf.errors import TrackerError
from sagan_tf.tracking import Tracker, Trackers
from tests.helpers import REPO
from tests.helpers.cli import read_events, run_cli
from tests.helpers.mlflow_store import new_experiment
from tests.helpers.wandb_offline import read_runs

mlflow = pytest.importorskip("mlflow", reason="the MLflow client is an extra: pip install '.[mlflow]'")
pytest.importorskip("wandb", reason="the W&B client is an extra: pip install '.[wandb]'")

OVERRIDES = [
    "model.ch=4", "model.z_dim=16", "train.precision=float32", "train.batch_size=8", "data.shuffle_buffer=64",
    "log.scalars_every=2", "log.samples_every=2", "log.samples_per_class=2", "log.checkpoint_every=2",
    "log.attention_every=4", "log.trackers=[tensorboard,mlflow,wandb]",
]


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory, tfds_dir):
    """A run of 4 steps resumed to 6, sent to all three trackers: (logdir, MLflow store URI)."""
    from sagan_tf.trainer import Trainer

    root = tmp_path_factory.mktemp("tracked")
    logdir, uri = root / "run", f"sqlite:///{root / 'mlflow.db'}"
    new_experiment(uri, root / "artifacts")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_MODE", "offline")
        patch.setenv("WANDB_SILENT", "true")
        patch.delenv("WANDB_DIR", raising=False)
        for steps in (4, 6):
            Trainer(REPO / "configs/fashion_mnist32.yaml", logdir, overrides=[*OVERRIDES, f"log.mlflow_uri={uri}"],
                    data_dir=tfds_dir, verbose=0).train(steps)
    return logdir, uri


def mlflow_run(logdir, uri):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("sagan_tf")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, "the resumed session went on in the same MLflow run"
    assert runs[0].info.run_id == json.loads((logdir / "trackers.json").read_text())["mlflow"]["run_id"]
    return client, runs[0]


def png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_every_tracker_reads_back_the_same_scalars(tracked_run):
    logdir, uri = tracked_run
    tensorboard = read_events(logdir / "train")[0]
    client, run = mlflow_run(logdir, uri)
    (wandb_run,) = read_runs(logdir / "wandb").values()
    names = [n for n in ("d_loss", "g_loss", "d_real", "d_fake", "lr_g", "lr_d") if n in tensorboard]
    assert len(names) == 6
    for name in names:
        assert sorted(tensorboard[name]) == [2, 4, 6]
        mlflow_values = {m.step: m.value for m in client.get_metric_history(run.info.run_id, name)}
        wandb_values = {step: row[name] for step, row in wandb_run["history"].items() if name in row}
        assert mlflow_values == wandb_values, name
        assert sorted(mlflow_values) == [2, 4, 6], name
        for step, value in tensorboard[name].items():  # TensorBoard keeps float32
            assert mlflow_values[step] == pytest.approx(value, rel=1e-6), (name, step)
    assert run.info.status == "FINISHED"


def test_every_tracker_has_the_resolved_config(tracked_run):
    logdir, uri = tracked_run
    from sagan_tf import config as config_lib
    from sagan_tf.tracking.tracker import flat_params

    expected = flat_params(config_lib.load(logdir / "config.yaml").to_dict())
    _, run = mlflow_run(logdir, uri)
    (wandb_run,) = read_runs(logdir / "wandb").values()
    assert expected["train.batch_size"] == 8 and expected["model.ch"] == 4
    for key in ("train.batch_size", "model.ch", "model.g_attention", "train.g_lr", "data.name"):
        assert run.data.params[key] == str(expected[key]), key
        assert wandb_run["config"][key] == expected[key], key
    assert wandb_run["project"] == "sagan_tf"
    # MLflow keeps the first session's parameters: train.steps was 4 then
    assert run.data.params["train.steps"] == "4" and wandb_run["config"]["train.steps"] == 6


def test_every_tracker_has_the_same_pictures(tracked_run):
    logdir, uri = tracked_run
    _, tensorboard = read_events(logdir / "train")
    client, run = mlflow_run(logdir, uri)
    (wandb_run,) = read_runs(logdir / "wandb").values()
    wandb_files = next((logdir / "wandb").glob("offline-run-*")).parent
    for name, steps in (("samples", [2, 4, 6]), ("attention/g/attention_16", [4])):
        assert [step for step, _ in tensorboard[name]] == steps
        artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "images")
                     if a.path.endswith(".png") and f"/{name.replace('/', '~')}+step+" in a.path]
        assert len(artifacts) == len(steps), name
        for step, encoded in tensorboard[name]:
            expected = png(encoded[2])
            (path,) = [a for a in artifacts if f"+step+{step}+" in a]
            local = client.download_artifacts(run.info.run_id, path)
            np.testing.assert_array_equal(np.asarray(Image.open(local).convert("RGB")), expected)
            row = wandb_run["history"][step]
            (image,) = wandb_files.glob(f"offline-run-*/files/{row[name + '/path']}")
            np.testing.assert_array_equal(np.asarray(Image.open(image).convert("RGB")), expected)


def test_a_missing_client_is_one_line_before_anything_is_written(tmp_path, tfds_dir, monkeypatch):
    from sagan_tf.trainer import Trainer

    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    logdir = tmp_path / "run"
    trainer = Trainer(REPO / "configs/fashion_mnist32.yaml", logdir, overrides=[*OVERRIDES, "log.trackers=[wandb]"],
                      data_dir=tfds_dir, verbose=0)
    with pytest.raises(TrackerError, match=r'pip install "sagan-tf\[wandb\]", or remove wandb from log.trackers'):
        trainer.train(2)
    assert not logdir.exists() or not any(p.name != "trainer.lock" for p in logdir.iterdir())


def test_wandb_online_without_a_key_or_a_server_is_one_line(monkeypatch, tmp_path):
    from sagan_tf.config import Config
    from sagan_tf.tracking import check_trackers

    cfg = Config()
    cfg.log.trackers = ["wandb"]
    (tmp_path / "netrc").write_text("")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(TrackerError, match="no W&B API key for 127.0.0.1 is set: run `wandb login`"):
        check_trackers(cfg)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    with pytest.raises(TrackerError, match=r"cannot reach W&B at http://127.0.0.1:9 .*WANDB_MODE=offline"):
        check_trackers(cfg)
    monkeypatch.setenv("WANDB_MODE", "offline")
    check_trackers(cfg)


def test_an_unreachable_mlflow_server_ends_sagan_train_with_one_line(tmp_path, tfds_dir):
    logdir = tmp_path / "run"
    result = run_cli("sagan_tf.cli.train", "--config", "configs/fashion_mnist32.yaml", "--logdir", str(logdir),
                     "--steps", "2", "--set", *OVERRIDES, "log.trackers=[tensorboard,mlflow]",
                     "log.mlflow_uri=http://127.0.0.1:9", tfds_dir=tfds_dir,
                     env={"no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1"})
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [line for line in result.stderr.splitlines() if line.strip()][-1:]
    assert lines[0].startswith("error: cannot reach the MLflow server http://127.0.0.1:9 (")
    assert not (logdir / "config.yaml").exists()


def test_names_mlflow_refuses_are_made_safe():
    from sagan_tf.tracking.mlflow_run import mlflow_key

    assert mlflow_key("per_class/recall/0_T-shirt/top") == "per_class/recall/0_T-shirt/top"
    assert mlflow_key("per_class/fid/3_Sac (à main)") == "per_class/fid/3_Sac __ main_"


def test_flat_params_spells_each_key_as_the_config_does():
    from sagan_tf.tracking.tracker import flat_params

    assert flat_params({"train": {"g_lr": 2e-4, "steps": 10}, "model": {"g_attention": [16], "ops": None}}) == {
        "train.g_lr": 2e-4, "train.steps": 10, "model.g_attention": "[16]", "model.ops": "None"}


class Recording(Tracker):
    name = "recording"

    def __init__(self):
        self.sent = []

    def scalars(self, step, values):
        self.sent.append((step, dict(values)))


class Failing(Tracker):
    name = "failing"

    def scalars(self, step, values):
        raise ConnectionError("server went away\nretries exhausted")


def test_a_tracker_failing_during_training_is_dropped_with_one_warning(capsys):
    recording, failing = Recording(), Failing()
    trackers = Trackers([failing, recording])
    trackers.scalars(10, {"d_loss": np.float32(1.5)})
    trackers.scalars(20, {"d_loss": 1.25})
    assert recording.sent == [(10, {"d_loss": 1.5}), (20, {"d_loss": 1.25})]
    assert trackers.trackers == [recording]
    assert capsys.readouterr().err.splitlines() == [
        "warning: failing failed (server went away); nothing more is sent to it, training goes on"]
