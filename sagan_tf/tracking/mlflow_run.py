"""MLflow as a tracker (``log.trackers: [mlflow]``; ``pip install "sagan-tf[mlflow]"``).

The run is an MLflow run in the experiment ``log.tracker_project`` of the tracking store
``log.mlflow_uri`` (null: ``MLFLOW_TRACKING_URI``, else MLflow's default, ``sqlite:///mlflow.db``
in the working directory), named after the run directory. Its id is kept in ``LOGDIR/trackers.json``
and a resumed run logs to the same MLflow run. MLflow keeps a run's parameters as first logged:
a resumed run with a changed config logs the keys that are new, and names the changed ones in a
notice (its ``config.yaml`` has the values in force).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from sagan_tf.tracking import run_ids
from sagan_tf.tracking.tracker import Tracker

_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9_\-. /]")  # what MLflow accepts in metric, param and image keys


def mlflow_key(name: str) -> str:
    """``name`` with every character MLflow refuses in a key replaced by ``_``."""
    return _NOT_IN_NAMES.sub("_", name)


def tracking_uri(configured: str | None) -> str:
    """The store a run logs to: ``log.mlflow_uri``, else MLflow's own choice (its environment variable, its default)."""
    import mlflow

    return configured or mlflow.get_tracking_uri()


class MLflowTracker(Tracker):
    name = "mlflow"

    def __init__(self, logdir: str | Path, uri: str | None, experiment: str):
        from mlflow.tracking import MlflowClient

        self.uri = tracking_uri(uri)
        self.client = MlflowClient(self.uri)
        known = run_ids.read(logdir).get(self.name)
        run = None
        if known and known.get("tracking_uri") == self.uri:
            run = self._existing(known["run_id"])
            if run is None:
                print(f"notice: MLflow run {known['run_id']} is not in {self.uri}; starting a new MLflow run", file=sys.stderr)
        if run is None:
            found = self.client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
            run = self.client.create_run(experiment_id, run_name=Path(logdir).resolve().name)
            run_ids.remember(logdir, self.name, {"run_id": run.info.run_id, "tracking_uri": self.uri,
                                                 "experiment": experiment})
        else:
            self.client.update_run(run.info.run_id, status="RUNNING")
        self.run_id = run.info.run_id
        self.logged_params = dict(run.data.params)

    def _existing(self, run_id: str):
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id)
        except MlflowException:
            return None

    def params(self, values):
        from mlflow.entities import Param

        values = {mlflow_key(k): str(v) for k, v in values.items()}
        new = {k: v for k, v in values.items() if k not in self.logged_params}
        changed = sorted(k for k, v in values.items() if k in self.logged_params and self.logged_params[k] != v)
        if changed:
            print(f"notice: MLflow keeps the parameters this run first logged; changed since: {', '.join(changed)}",
                  file=sys.stderr)
        items = [Param(k, v) for k, v in new.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 parameters per batch
            self.client.log_batch(self.run_id, params=items[i : i + 100])
        self.logged_params.update(new)

    def scalars(self, step, values):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(mlflow_key(k), float(v), now, int(step)) for k, v in values.items()]
        for i in range(0, len(metrics), 1000):  # and at most 1000 metrics
            self.client.log_batch(self.run_id, metrics=metrics[i : i + 1000])

    def images(self, step, pictures):
        for name, picture in pictures.items():
            self.client.log_image(self.run_id, picture[..., 0] if picture.shape[-1] == 1 else picture,
                                  key=mlflow_key(name), step=int(step))

    def close(self, ok: bool = True):
        self.client.set_terminated(self.run_id, status="FINISHED" if ok else "KILLED")
