"""The ``ops`` argument of SAGAN's layers and models: which form of each op in ``sagan_tf.ops`` runs.

A layer or model takes ``ops`` as a constructor argument: an ``ops_choice.OpChoice``, its text
(``"fast"``, ``"reference"``, ``"upsample_conv,batch_norm"``) or ``"auto"``, decided here for the
devices this process computes on (``ops_choice.choose``: the fast forms on CPUs, the reference forms
under a TPU strategy or where a GPU is visible). A model passes its choice to every layer it builds,
and ``get_config`` keeps the decided choice.
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf import ops_choice
from sagan_tf.ops_choice import OpChoice


def resolve_ops(value: str | OpChoice = ops_choice.AUTO) -> OpChoice:
    """``value`` as an ``OpChoice``, ``"auto"`` decided for this process's devices."""
    if isinstance(value, str) and value.strip() == ops_choice.AUTO:
        tpu = isinstance(tf.distribute.get_strategy(), tf.distribute.TPUStrategy)
        gpus = bool(tf.config.list_logical_devices("GPU"))
        return ops_choice.resolve(ops_choice.AUTO, tpu=tpu, gpus=gpus)[0]
    return ops_choice.parse(value)
