"""benchmarks.figure3: settings read from run configs, the table against numpy on known curves, the
plot, and the table written between the page's markers."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from benchmarks import figure3
from sagan_tf import config as config_lib

STEPS = np.arange(250, 3001, 250)
CONFIGS = {"sn_d": "SN on D", "sn_gd": "SN on G/D", "sn_gd_ttur": "SN on G/D + TTUR"}


def _curve(setting_index, seed):
    """A deterministic FID curve per run: falling, then (baseline) rising again, plus a seed offset."""
    fid = 40.0 / np.sqrt(STEPS / 250) + setting_index + 0.5 * seed
    if setting_index == 0:
        fid = fid + np.where(STEPS > 2000, (STEPS - 2000) / 100.0, 0.0)
    return fid, 5.0 + STEPS / 1000.0 + seed


def _write_run(root, name, seed, setting_index):
    from sagan_tf.runs.run_dir import CONFIG_FILE, SUMMARY_DIR

    logdir = root / f"{name}_seed{seed}"
    (logdir / SUMMARY_DIR).mkdir(parents=True)
    cfg = config_lib.load(f"ablation/fashion_mnist32_{name}", [f"train.seed={seed}"])
    config_lib.save(cfg, logdir / CONFIG_FILE)
    fid, inception_score = _curve(setting_index, seed)
    writer = tf.summary.create_file_writer(str(logdir / SUMMARY_DIR))
    with writer.as_default():
        for step, f, s in zip(STEPS, fid, inception_score, strict=True):
            tf.summary.scalar("fid", f, step=int(step))
            tf.summary.scalar("is", s, step=int(step))
            tf.summary.scalar("d_loss", 1.0, step=int(step))  # other tags are ignored
    writer.close()
    return logdir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fig3")
    return [_write_run(root, name, seed, i) for i, name in enumerate(CONFIGS) for seed in (0, 1)]


def test_settings_come_from_the_configs(runs):
    loaded = [figure3.load_run(path) for path in runs]
    assert [r.setting for r in loaded] == [CONFIGS[name] for name in CONFIGS for _ in (0, 1)]
    assert [r.seed for r in loaded] == [0, 1] * 3
    cfg = config_lib.load("ablation/fashion_mnist32_sn_d", ["train.d_lr=2e-4"])
    assert figure3.setting_of(cfg) == "SN on D, lr 0.0001/0.0002"


def test_summary_and_table_against_numpy(runs, tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"# Title\n\ntext\n\n{figure3.TABLE_BEGIN}\nold table\n{figure3.TABLE_END}\n\nmore text\n")
    out = tmp_path / "fig"
    assert figure3.main([*map(str, runs), "--out", str(out), "--page", str(page), "--tail", "500"]) == 0

    fid, inception_score = _curve(0, 1)
    s = figure3.run_summary(figure3.load_run(runs[1]), tail=500)
    best = int(np.argmin(fid))
    assert s["fid"] == pytest.approx(fid[-1]) and s["is"] == pytest.approx(inception_score[-1])
    assert s["tail_fid"] == pytest.approx(fid[STEPS > 2500].mean())  # steps 2750 and 3000
    assert (s["best_fid"], s["best_step"]) == (pytest.approx(fid[best]), int(STEPS[best]))
    assert s["rise"] == pytest.approx(fid[-1] - fid[best]) and s["rise"] > 4.0
    assert s["ups"] == pytest.approx(np.sum(np.clip(np.diff(fid), 0, None))) and s["ups"] > s["rise"] - 1e-9
    assert figure3.run_summary(figure3.load_run(runs[2]), tail=500)["ups"] == 0.0  # SN on G/D: only falls

    text = page.read_text()
    assert text.startswith("# Title\n\ntext\n\n") and text.endswith(f"{figure3.TABLE_END}\n\nmore text\n")
    assert "old table" not in text
    rows = [line for line in text.splitlines() if line.startswith("| SN on G/D + TTUR |")]
    assert len(rows) == 3  # two seeds and the setting's summary
    finals = [_curve(2, seed)[0][-1] for seed in (0, 1)]
    summary = rows[-1].split("|")
    assert summary[2].strip() == "2"
    assert summary[3].strip() == f"{np.mean(finals):.2f} ({min(finals):.2f}-{max(finals):.2f})"

    image = Image.open(f"{out}.png")
    assert image.size[0] > 800 and image.size[1] > 300
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 50  # lines in several colours, not an empty canvas


def test_a_run_without_fid_is_an_error(tmp_path):
    from sagan_tf.runs.run_dir import CONFIG_FILE, SUMMARY_DIR

    (tmp_path / SUMMARY_DIR).mkdir()
    config_lib.save(config_lib.load("ablation/fashion_mnist32_sn_gd"), tmp_path / CONFIG_FILE)
    with pytest.raises(SystemExit, match="no fid scalars"):
        figure3.load_run(tmp_path)
