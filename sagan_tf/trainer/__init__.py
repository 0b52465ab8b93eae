"""Training runs from Python: ``Trainer(config, logdir).train()`` does everything ``sagan-train`` does.

One module per concern: ``trainer`` (the ``Trainer``: one session after another in a run
directory), ``options`` (strategy, cluster and output directories, checked when it is made),
``run_config`` (the config and overrides, checked against the run), ``run_directory`` (writable,
locked, its ``config.yaml``), ``data_check`` (a folder surveyed first; pipeline errors as one line),
``precision`` (``train.precision: auto`` decided for the hardware), ``signals`` (SIGTERM and SIGINT,
in the main thread), ``session`` (build, resume, callbacks, the loop) and ``dry_run`` (the
report of ``--dry-run``). Importing this package does not import TensorFlow.
"""

from sagan_tf.trainer.trainer import Trainer

__all__ = ["Trainer"]
