"""The trackers of ``log.trackers``: checked at the start of a run, opened by the chief.

``check_trackers`` runs before anything is built or written: a tracker whose package is not
installed, or whose server cannot be reached, is one ``error:`` line (``TrackerError``) then, never
a failure hours into training. ``open_trackers`` opens each (a new tracker run, or the one a
resumed run was sending to) and sends the resolved config as parameters.
"""

from __future__ import annotations

import importlib
import netrc
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from sagan_tf.errors import TrackerError
from sagan_tf.tracking.tracker import Trackers, flat_params

EXTRAS = {"mlflow": "mlflow", "wandb": "wandb"}  # tracker -> the package's extra that installs its client
OFFLINE_WANDB_MODES = ("offline", "disabled", "dryrun")
TIMEOUT = 10.0  # seconds to wait for a tracking server's answer at the start


def check_trackers(cfg) -> None:
    """Raises ``TrackerError`` with one line when a tracker of ``log.trackers`` cannot be used."""
    for name in cfg.log.trackers:
        if name in EXTRAS:
            _import(name)
        if name == "mlflow":
            _check_mlflow(cfg.log.mlflow_uri)
        elif name == "wandb":
            _check_wandb()


def open_trackers(cfg, logdir: str | Path, summary_dir: str | Path) -> Trackers:
    """The trackers of ``log.trackers``, open, with the config sent as parameters; when one fails
    to open, those already open are closed as stopped."""
    trackers = Trackers()
    try:
        for name in cfg.log.trackers:
            trackers.trackers.append(_open(name, cfg, logdir, summary_dir))
        trackers.params(flat_params(cfg.to_dict()))
    except BaseException:
        trackers.close(ok=False)
        raise
    return trackers


def _open(name: str, cfg, logdir, summary_dir):
    if name == "mlflow":
        from sagan_tf.tracking.mlflow_run import MLflowTracker

        return MLflowTracker(logdir, cfg.log.mlflow_uri, cfg.log.tracker_project)
    if name == "wandb":
        from sagan_tf.tracking.wandb_run import WandbTracker

        return WandbTracker(logdir, cfg.log.tracker_project, cfg.log.wandb_entity)
    from sagan_tf.tracking.tensorboard import TensorBoardTracker

    return TensorBoardTracker(summary_dir)


def _import(name: str) -> None:
    try:
        importlib.import_module(name)
    except ImportError as e:
        raise TrackerError(f"log.trackers names {name}, whose client is not installed ({e}): "
                           f"pip install \"sagan-tf[{EXTRAS[name]}]\", or remove {name} from log.trackers") from None


def _reachable(url: str) -> str | None:
    """None when something answers HTTP at ``url`` (any status), else why not."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT):
            return None
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError) as e:
        return str(getattr(e, "reason", e))


def _check_mlflow(configured: str | None) -> None:
    from sagan_tf.tracking.mlflow_run import tracking_uri

    uri = tracking_uri(configured)
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme in ("http", "https"):
        why = _reachable(uri.rstrip("/") + "/health")
        if why is not None:
            raise TrackerError(f"cannot reach the MLflow server {uri} ({why}): start it, or set log.mlflow_uri")
        return
    if scheme == "databricks":
        return
    from mlflow.tracking import MlflowClient

    try:  # a local store: open it (sqlite creates its tables once)
        MlflowClient(uri).search_experiments(max_results=1)
    except Exception as e:  # noqa: BLE001 - any failure of the store is the user's line
        first = str(e).strip().split(". ")[0].splitlines()[0]
        raise TrackerError(f"cannot open the MLflow store {uri}: {first} (set log.mlflow_uri)") from None


def _check_wandb() -> None:
    if os.environ.get("WANDB_MODE", "").lower() in OFFLINE_WANDB_MODES:
        return
    base = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    host = urllib.parse.urlparse(base).hostname or base
    if not os.environ.get("WANDB_API_KEY") and not _netrc_has(host):
        raise TrackerError(f"log.trackers names wandb, but no W&B API key for {host} is set: run `wandb login`, "
                           "set WANDB_API_KEY, or WANDB_MODE=offline to write the run to files")
    why = _reachable(base)
    if why is not None:
        raise TrackerError(f"cannot reach W&B at {base} ({why}): set WANDB_MODE=offline to write the run to files "
                           "and `wandb sync` them later")


def _netrc_has(host: str) -> bool:
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False
