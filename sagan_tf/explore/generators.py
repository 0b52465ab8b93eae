"""Moved to ``sagan_tf.serving.generators``: this path works for one more release (``sagan_tf.moved``)."""

from sagan_tf.moved import forward

forward(globals(), "sagan_tf.serving.generators")

from sagan_tf.serving.generators import TrainedGenerator as Generator  # noqa: E402, F401  (its old name)
from sagan_tf.serving.sources import version_directory  # noqa: E402, F401
