"""Moved to ``sagan_tf.runs.run_dir``: this path works for one more release (``sagan_tf.moved``)."""

from sagan_tf.moved import forward

forward(globals(), "sagan_tf.runs.run_dir")

BEST_DIR = "best_fid"  # its old value: runs.best.LEGACY_DIR (the new best/ is runs.best.BEST_DIR)
