"""Moved to ``sagan_tf.cluster.kubernetes_tf_config``: this path works for one more release (``sagan_tf.moved``)."""

from sagan_tf.moved import forward

forward(globals(), "sagan_tf.cluster.kubernetes_tf_config")
