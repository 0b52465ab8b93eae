"""``python -m sagan_tf.train`` / ``sagan-sample`` end to end on a tiny Fashion-MNIST config."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.helpers.cli import OFFLINE, TINY, read_events, run_cli, run_main


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tfds_dir):
    logdir = tmp_path_factory.mktemp("runs") / "fmnist"
    first = run_cli(
        "sagan_tf.train", "--config", "configs/fashion_mnist32.yaml", "--logdir", str(logdir),
        "--steps", "20", "--set", *TINY, "--verbose", "0", tfds_dir=tfds_dir,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    return logdir, first


def test_first_run_writes_scalars_images_and_checkpoints(trained_run):
    logdir, _ = trained_run
    scalars, images = read_events(logdir / "train")
    for tag in ("d_loss", "g_loss", "d_real", "d_fake", "gamma_g_attention_16", "gamma_d_attention_16", "lr_g", "lr_d"):
        assert sorted(scalars[tag]) == [5, 10, 15, 20], tag
    assert scalars["lr_g"][20] == pytest.approx(2e-4) and scalars["lr_d"][20] == pytest.approx(8e-4)  # the recipe's
    assert all(np.isfinite(v) for v in scalars["d_loss"].values())
    # The sample grid: 10 classes x 2 samples of 32x32, 2-pixel padding, grayscale PNG in the event.
    steps = [s for s, _ in images["samples"]]
    assert steps == [10, 20]
    png = images["samples"][-1][1]  # [width, height, encoded png]
    assert int(png[0]) == 2 * 34 + 2 and int(png[1]) == 10 * 34 + 2
    index = tf.train.get_checkpoint_state(str(logdir / "checkpoints"))
    assert index.model_checkpoint_path.endswith("ckpt-20")
    assert [Path(p).name for p in index.all_model_checkpoint_paths] == ["ckpt-10", "ckpt-20"]
    assert (logdir / "config.yaml").read_text().count("ch: 4") == 1


def test_same_command_with_more_steps_resumes(trained_run, tfds_dir):
    logdir, _ = trained_run
    second = run_cli(
        "sagan_tf.train", "--config", "configs/fashion_mnist32.yaml", "--logdir", str(logdir),
        "--steps", "30", "--set", *TINY, "--verbose", "0", tfds_dir=tfds_dir,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming from" in second.stderr and "at step 20" in second.stderr
    scalars, _ = read_events(logdir / "train")
    assert sorted(scalars["d_loss"]) == [5, 10, 15, 20, 25, 30]
    assert tf.train.latest_checkpoint(str(logdir / "checkpoints")).endswith("ckpt-30")
    reader = tf.train.load_checkpoint(str(logdir / "checkpoints" / "ckpt-30"))
    iterations = [k for k in reader.get_variable_to_shape_map() if k.startswith("g_optimizer/_iterations")]
    assert iterations and int(reader.get_tensor(iterations[0])) == 30
    # Nothing to do once train.steps is reached.
    third = run_cli("sagan_tf.train", "--logdir", str(logdir), "--steps", "30", "--verbose", "0", tfds_dir=tfds_dir)
    assert third.returncode == 0 and "nothing to do" in third.stderr


def test_sample_cli_writes_a_grid(trained_run, tmp_path):
    logdir, _ = trained_run
    out = tmp_path / "grid.png"
    result = run_cli("sagan_tf.cli.sample", "--logdir", str(logdir), "--out", str(out), "--classes", "0,3,7", "--n", "4")
    assert result.returncode == 0, result.stderr[-2000:]
    image = np.asarray(Image.open(out))
    assert image.shape == (3 * 34 + 2, 4 * 34 + 2)
    bad = run_cli("sagan_tf.cli.sample", "--logdir", str(logdir), "--out", str(out), "--classes", "0,12")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1] == "error: --classes must be in [0, 10), got '0,12'"


def test_sample_names_an_unknown_shipped_generator_in_one_line(tmp_path, capsys):
    from sagan_tf.cli.sample import main
    from tests.helpers.cli import run_main

    assert run_main(main, ["--pretrained", "nope", "--out", str(tmp_path / "g.png")]) == 2
    assert "error: no pretrained generator 'nope'; the package ships: fashion_mnist32" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()


def test_resume_with_a_different_model_is_an_error(trained_run, tfds_dir):
    logdir, _ = trained_run
    before = sorted(p.name for p in (logdir / "checkpoints").iterdir())
    result = run_cli(
        "sagan_tf.train", "--config", "configs/fashion_mnist32.yaml", "--logdir", str(logdir),
        "--set", *TINY, "model.ch=8", "--verbose", "0", tfds_dir=tfds_dir,
    )
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "model.ch: 4 -> 8" in last
    assert sorted(p.name for p in (logdir / "checkpoints").iterdir()) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "model.chh=3"], "unknown config key 'model.chh'"),
        (["--set", "train.batch_size=abc"], "config key 'train.batch_size' must be int"),
        (["--strategy", "nccl"], "argument --strategy: invalid choice: 'nccl'"),
        (["--precision", "float8"], "argument --precision: invalid choice: 'float8'"),
        (["--strategy", "mirrored", "--virtual-cpus", "2", "--batch-size", "15"], "not divisible by the 2 replicas"),
        (["--strategy", "multiworker"], "needs the TF_CONFIG environment variable"),
        (["--strategy", "multiworker", "TF_CONFIG={\"cluster\": {}}"], "TF_CONFIG must be JSON like"),
        (["--strategy", "tpu"], "--strategy tpu needs --tpu"),
    ],
)
def test_user_errors_exit_with_one_line(tmp_path, args, message, monkeypatch):
    env_args = [a for a in args if a.startswith("TF_CONFIG=")]
    for a in env_args:
        monkeypatch.setenv("TF_CONFIG", a.split("=", 1)[1])
    args = [a for a in args if a not in env_args]
    result = run_cli(
        "sagan_tf.train", "--config", "configs/fashion_mnist32.yaml", "--logdir", str(tmp_path / "run"), *args
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_an_unprepared_dataset_offline_fails_with_one_line(tmp_path):
    """Offline (simulated: every HTTP(S) request goes to a proxy on a closed port), TFDS's download
    fails, and the one line says where the data should be; nothing is written."""
    empty = tmp_path / "tfds"
    empty.mkdir()
    result = run_cli("sagan_tf.train", "--config", "fashion_mnist32", "--logdir", str(tmp_path / "run"),
                     tfds_dir=str(empty), env=OFFLINE)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "TFDS_DATA_DIR" in lines[0] and "--data-dir" in lines[0], result.stderr[-2000:]
    assert "could not be downloaded" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_bad_vertex_variable_is_a_usage_line(monkeypatch, capsys):
    from sagan_tf.cli.train import parse_args

    monkeypatch.setenv("AIP_MODEL_DIR", "gs://")
    with pytest.raises(SystemExit) as raised:
        parse_args(["--config", "imagenet128", "--logdir", "r"])
    assert raised.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: AIP_MODEL_DIR='gs://' names no Cloud Storage bucket (see sagan-train --help)"
    )


@pytest.mark.parametrize("url", ["gs://bucket/runs/a", "s3://bucket/runs/a"])
def test_a_url_as_the_run_directory_is_one_line_saying_to_mount_it(url, capsys):
    from sagan_tf.cli.train import parse_args

    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--config", "fashion_mnist32", "--logdir", url])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: --logdir {url}: the run directory must be a file system path" in err and "gcsfuse" in err


def test_compare_ops_times_both_forms_and_says_which_to_set(tmp_path, capsys, monkeypatch):
    from sagan_tf.cli.train import main

    monkeypatch.chdir(tmp_path)
    argv = ["--config", "fashion_mnist32", "--compare-ops", "--compare-steps", "1", "--precision", "float32",
            "--set", "model.ch=4", "model.z_dim=16", "train.batch_size=8"]
    assert run_main(main, argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "devices: /device:CPU:0; precision float32; global batch 8"
    assert lines[1].startswith("reference forms: ") and "fast forms: " in lines[1]
    assert lines[2].endswith("agree") and lines[3].startswith("set model.ops=")
    assert list(tmp_path.iterdir()) == []  # nothing written
