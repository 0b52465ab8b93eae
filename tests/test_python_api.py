"""``docs/python_api.md`` as a notebook runs it: its ``python`` blocks in order, in one fresh process,
with the first block (where the data, the work directory and the feature model are) replaced by the
test's own. The page trains a tiny model, resumes it, draws a grid, measures and exports it."""

import json
import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image

from tests.helpers import REPO

PAGE = REPO / "docs" / "python_api.md"

# What the page made, read from its variables after its last block.
REPORT = """
import json
print("REPORT " + json.dumps({
    "steps": [trainer_steps, resumed_step], "images": [list(images.shape), str(images.dtype)],
    "sneakers": list(sneakers.shape), "given_z": list(same.shape), "metrics": sorted(metrics),
    "version": str(version), "same_images": same_images, "class_names": generator.class_names,
}))
"""


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def test_the_page_runs_as_a_notebook_and_makes_what_it_says(tmp_path, tfds_dir, feature_model):
    blocks = python_blocks(PAGE.read_text())
    assert len(blocks) >= 7 and "DATA_DIR =" in blocks[0] and "FEATURE_MODEL =" in blocks[0]
    work = tmp_path / "work"
    blocks[0] = f"DATA_DIR = {tfds_dir!r}\nWORK = {str(work)!r}\nFEATURE_MODEL = {feature_model!r}\n"
    code = "\n".join(blocks).replace("model = trainer.train(steps=4)\n", "model = trainer.train(steps=4)\ntrainer_steps = int(model.step.numpy())\n")
    assert "trainer_steps =" in code
    home = tmp_path / "home"  # the reference statistics' cache and Keras' files stay under tmp_path
    env = dict(os.environ, PYTHONPATH=str(REPO), HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               KERAS_HOME=str(home / ".keras"), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", code + REPORT], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
    report = json.loads(line[len("REPORT "):])
    assert report["steps"] == [4, 8]  # trained, then resumed from the run's own checkpoint
    assert report["images"] == [[80, 32, 32, 1], "uint8"] and report["sneakers"] == [4, 32, 32, 1]
    assert report["given_z"] == [2, 32, 32, 1] and report["class_names"][7] == "Sneaker"
    assert {"is", "fid", "kid", "protocol", "step"} <= set(report["metrics"])
    assert report["version"] == str(work / "export" / "fmnist" / "1") and report["same_images"] is True
    run = work / "runs" / "fmnist"
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "ckpt-8.index").is_file()
    assert len(list((run / "evaluations").glob("*.json"))) == 1  # the measurement is kept in the run
    grid = np.asarray(Image.open(work / "grid.png"))
    assert grid.shape == (10 * 34 + 2, 8 * 34 + 2)  # one row of 8 per class, 2-pixel borders
    assert (work / "export" / "fmnist" / "1" / "saved_model.pb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "work"]  # nothing written elsewhere in it
