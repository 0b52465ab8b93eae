"""Every verb's output that cannot be written is one ``error:`` line and exit status 2, told before
the work (``cli.outputs``); a result whose final write fails is kept beside the asked path; the
truncation of ``sagan-evaluate`` and ``sagan-sample`` has the explorer's bound, and
``sagan-sample --truncation`` draws what the ``generate_truncated`` signature draws."""

import errno
import os

import numpy as np
import pytest
from PIL import Image

from sagan_tf import images as images_mod
from sagan_tf.cli import evaluate, export, outputs, sample, train_feature_model, visualize
from sagan_tf.images import make_grid
from sagan_tf.serving.generators import load_generator
from tests.helpers.cli import run_main

PRETRAINED = ["--pretrained", "fashion_mnist32"]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def verbs(tmp_path):
    """(main, argv before --out, the file name the line suggests) of each verb writing one file."""
    return [
        (sample.main, PRETRAINED, "grid.png"),
        (evaluate.main, PRETRAINED, "result.json"),
        (visualize.main, ["attention", *PRETRAINED], "attention.png"),
        (train_feature_model.main, ["--config", "fashion_mnist32"], "features.keras"),
    ]


def test_a_directory_where_a_file_goes_is_one_line(tmp_path, capsys):
    target = tmp_path / "existing"
    target.mkdir()
    for main, argv, example in verbs(tmp_path):
        assert run_main(main, [*argv, "--out", str(target)]) == 2
        assert one_error_line(capsys) == (f"error: cannot write --out {target}: it is a directory; give a file path "
                                          f"such as {target / example}")
    assert list(target.iterdir()) == []


def test_a_path_under_a_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("keep me")
    for main, argv, _ in verbs(tmp_path):
        out = blocker / "sub" / "x.png"
        assert run_main(main, [*argv, "--out", str(out)]) == 2
        assert one_error_line(capsys) == f"error: cannot write --out {out}: {blocker} is a file, not a directory"
    assert run_main(export.main, [*PRETRAINED, "--out", str(blocker / "models")]) == 2
    assert one_error_line(capsys) == f"error: cannot write --out {blocker / 'models'}: {blocker} is a file, not a directory"
    assert run_main(export.main, [*PRETRAINED, "--out", str(blocker)]) == 2
    assert one_error_line(capsys) == f"error: cannot write --out {blocker}: it is a file, not a directory"
    stats = tmp_path / "stats"
    stats.mkdir()
    assert run_main(evaluate.main, [*PRETRAINED, "--save-reference-stats", str(stats)]) == 2
    assert one_error_line(capsys) == (f"error: cannot write --save-reference-stats {stats}: it is a directory; "
                                      f"give a file path such as {stats / 'stats.npz'}")
    assert blocker.read_text() == "keep me"


@pytest.mark.parametrize(("code", "why"), [
    (errno.ENOSPC, "the disk is full"),
    (errno.EROFS, "it is not writable (permission denied or a read-only file system)"),
    (errno.EACCES, "it is not writable (permission denied or a read-only file system)"),
])
def test_a_full_disk_or_a_read_only_place_is_one_line(tmp_path, capsys, monkeypatch, code, why):
    """The probe file fails as the file system would fail it (this test runs as any user: root
    writes into read-only modes, so the failure is injected where the probe writes)."""
    def refuse(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(outputs.os, "fsync", refuse)
    out = tmp_path / "grid.png"
    assert run_main(sample.main, [*PRETRAINED, "--out", str(out)]) == 2
    assert one_error_line(capsys) == f"error: cannot write --out {out}: {why}"
    assert list(tmp_path.iterdir()) == []  # the probe is gone


def test_a_write_that_fails_at_the_end_keeps_the_result_beside_and_says_where(tmp_path, capsys, monkeypatch):
    out = tmp_path / "grid.png"
    real = images_mod.write_png

    def fills_up(path, image):
        if path == out:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, image)

    monkeypatch.setattr(images_mod, "write_png", fills_up)
    assert run_main(sample.main, [*PRETRAINED, "--out", str(out), "--n", "2", "--classes", "0"]) == 2
    kept = tmp_path / f"grid.saved-{os.getpid()}.png"
    assert one_error_line(capsys) == f"error: cannot write --out {out} (the disk is full); the grid is kept in {kept}"
    monkeypatch.setattr(images_mod, "write_png", real)
    assert run_main(sample.main, [*PRETRAINED, "--out", str(out), "--n", "2", "--classes", "0"]) == 0
    assert np.array_equal(np.asarray(Image.open(kept)), np.asarray(Image.open(out)))


@pytest.mark.parametrize("main,argv", [(sample.main, [*PRETRAINED, "--out", "x.png"]), (evaluate.main, PRETRAINED)])
@pytest.mark.parametrize("value", ["1e-46", "0", "-1", "nan"])
def test_truncation_has_the_explorers_bound(tmp_path, capsys, main, argv, value):
    assert run_main(main, [*argv, "--truncation", value]) == 2
    shown = f"{float(value):g}"
    assert one_error_line(capsys) == f"error: --truncation must be >= 1e-06 (inf: no truncation), got {shown}"


def test_sample_truncation_draws_what_generate_truncated_draws(tmp_path):
    out = tmp_path / "grid.png"
    assert run_main(sample.main, [*PRETRAINED, "--out", str(out), "--classes", "1,7", "--n", "3", "--seed", "5",
                                  "--truncation", "0.5"]) == 0
    generator = load_generator("fashion_mnist32")
    seeds = [5 * 2**32 + i for i in range(6)]
    images, z = generator.images_and_z(seeds, [1, 1, 1, 7, 7, 7], 0.5)  # the generate_truncated signature itself
    assert np.abs(z).max() <= 0.5 and z.std() > 0.1
    assert np.array_equal(np.asarray(Image.open(out)).reshape(make_grid(images, 3).shape), make_grid(images, 3))
    untruncated = tmp_path / "plain.png"
    assert run_main(sample.main, [*PRETRAINED, "--out", str(untruncated), "--classes", "1,7", "--n", "3", "--seed", "5"]) == 0
    assert not np.array_equal(np.asarray(Image.open(untruncated)), np.asarray(Image.open(out)))


def test_visualize_reads_a_shipped_generator(tmp_path, capsys):
    out = tmp_path / "attention.png"
    assert run_main(visualize.main, ["attention", *PRETRAINED, "--out", str(out), "--classes", "0,1"]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"wrote {out}: g/attention_16 of generator_ema (latest, step 5000), 2 images x 4 query points")
    assert run_main(visualize.main, ["attention", *PRETRAINED, "--out", str(out), "--network", "d"]) == 2
    assert one_error_line(capsys) == ("error: --network d needs a run's D: a shipped generator (--pretrained) holds "
                                      "G only; use --logdir RUN")
