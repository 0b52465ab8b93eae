"""Experiment trackers: where a training run sends its scalars, its config and its pictures.

``log.trackers`` names them (default ``[tensorboard]``): ``tensorboard`` (event files in
``LOGDIR/train``), ``mlflow`` (``pip install "sagan-tf[mlflow]"``) and ``wandb`` (``pip install
"sagan-tf[wandb]"``). Every one receives the same things through one interface (``tracker.Tracker``):
the resolved config once as parameters, every scalar the run logs (losses, D outputs, learning
rates, in-training FID and the other metrics, the held-out view) and every picture (sample grids,
attention maps). Only the chief sends. A resumed run continues the same MLflow / W&B run: their ids
are kept in ``LOGDIR/trackers.json`` (``run_ids``). A tracker whose package is missing or whose
server cannot be reached stops the run at the start with one line (``opening.check_trackers``).
"""

from sagan_tf.tracking.opening import check_trackers, open_trackers
from sagan_tf.tracking.tracker import TRACKERS, Tracker, Trackers, as_tracker

__all__ = ["TRACKERS", "Tracker", "Trackers", "as_tracker", "check_trackers", "open_trackers"]
