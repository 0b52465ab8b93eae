"""Moved to ``sagan_tf.serving.pretrained``: this path works for one more release (``sagan_tf.moved``)."""

from sagan_tf.moved import forward

forward(globals(), "sagan_tf.serving.pretrained")
