"""``LOGDIR/trackers.json``: which MLflow / W&B run a training run sends to, so that a resumed run
goes on in the same one. Written atomically (``sagan_tf.files``); a missing file means a new run."""

from __future__ import annotations

import json
from pathlib import Path

from sagan_tf import files
from sagan_tf.errors import SaganError

RUN_IDS_FILE = "trackers.json"


def read(logdir: str | Path) -> dict[str, dict]:
    """``{"mlflow": {"run_id": ..., ...}, "wandb": {"id": ..., ...}}``, empty for a new run."""
    path = Path(logdir) / RUN_IDS_FILE
    if not path.exists():
        return {}
    try:
        ids = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SaganError(f"{path} is unreadable ({e}); delete it to start new tracker runs") from None
    if not isinstance(ids, dict):
        raise SaganError(f"{path} is not a JSON object; delete it to start new tracker runs")
    return ids


def remember(logdir: str | Path, tracker: str, entry: dict) -> None:
    """Records ``entry`` (the tracker's run id and where it lives) for ``tracker``."""
    ids = read(logdir)
    ids[tracker] = entry
    Path(logdir).mkdir(parents=True, exist_ok=True)
    files.write_text(Path(logdir) / RUN_IDS_FILE, json.dumps(ids, indent=2, sort_keys=True) + "\n")
