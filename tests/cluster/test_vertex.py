"""``sagan_tf.cluster.vertex``: where a Vertex AI job's outputs go, and a trainer's ``logdir`` over them."""

import pytest

from sagan_tf.cluster import vertex
from sagan_tf.errors import ConfigError
from sagan_tf.trainer import Trainer

# What Vertex AI sets for a CustomJob with baseOutputDirectory gs://bkt/jobs/in128.
AIP = {
    "AIP_CHECKPOINT_DIR": "gs://bkt/jobs/in128/checkpoints/",
    "AIP_TENSORBOARD_LOG_DIR": "gs://bkt/jobs/in128/logs/",
    "AIP_MODEL_DIR": "gs://bkt/jobs/in128/model/",
}


def test_the_job_directories_become_the_run_the_events_and_the_export_under_the_fuse_mount():
    assert vertex.outputs(None, AIP) == vertex.Outputs(
        logdir="/gcs/bkt/jobs/in128/checkpoints", summary_dir="/gcs/bkt/jobs/in128/logs", export_dir="/gcs/bkt/jobs/in128/model"
    )


def test_an_explicit_logdir_wins_over_the_run_directories_but_not_over_the_model_directory():
    assert vertex.outputs("/gcs/bkt/runs/in128", AIP) == vertex.Outputs(
        logdir="/gcs/bkt/runs/in128", summary_dir=None, export_dir="/gcs/bkt/jobs/in128/model"
    )


def test_outside_vertex_ai_nothing_changes():
    assert vertex.outputs("runs/a", {}) == vertex.Outputs(logdir="runs/a")
    assert vertex.outputs(None, {"AIP_TENSORBOARD_LOG_DIR": ""}) == vertex.Outputs(logdir=None)


@pytest.mark.parametrize(
    "uri, path",
    [("gs://b/x/y/", "/gcs/b/x/y"), ("gs://b", "/gcs/b"), ("/mnt/runs/a/", "/mnt/runs/a"), ("runs/a", "runs/a"), ("/", "/")],
)
def test_cloud_storage_uris_are_read_through_the_gcs_mount(uri, path):
    assert vertex.local_path("AIP_MODEL_DIR", uri) == path


@pytest.mark.parametrize(
    "uri, message",
    [("gs://", "AIP_MODEL_DIR='gs://' names no Cloud Storage bucket"),
     ("s3://b/m", "AIP_MODEL_DIR='s3://b/m': only gs:// URIs and paths can be written (Vertex AI mounts gs:// at /gcs)")],
)
def test_other_uris_are_one_line(uri, message):
    with pytest.raises(ConfigError) as raised:
        vertex.local_path("AIP_MODEL_DIR", uri)
    assert str(raised.value) == message


def test_on_vertex_ai_a_trainer_needs_no_logdir(monkeypatch):
    for name, value in AIP.items():
        monkeypatch.setenv(name, value)
    trainer = Trainer("imagenet128", strategy="multiworker")
    assert str(trainer.logdir) == "/gcs/bkt/jobs/in128/checkpoints" and str(trainer.summary_dir) == "/gcs/bkt/jobs/in128/logs"
    assert str(trainer.export_dir) == "/gcs/bkt/jobs/in128/model"
    assert Trainer("imagenet128", "/gcs/bkt/r").summary_dir is None


def test_a_bad_vertex_variable_is_one_config_error(monkeypatch):
    monkeypatch.setenv("AIP_MODEL_DIR", "gs://")
    with pytest.raises(ConfigError) as raised:
        Trainer("imagenet128", "r")
    assert str(raised.value) == "AIP_MODEL_DIR='gs://' names no Cloud Storage bucket"
