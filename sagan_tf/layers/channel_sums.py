"""Moved to ``sagan_tf.ops.channel_sums``: this path works for one more release (``sagan_tf.moved``)."""

from sagan_tf.moved import forward

forward(globals(), "sagan_tf.ops.channel_sums")
