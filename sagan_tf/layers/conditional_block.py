"""What every block of G shares: its width, the classes its conditional batch norms know, whether its
kernels are spectrally normalized (SAGAN section 4.1: CBN and SN in G; section 5.1's "SN on D"
baseline turns G's spectral norm off) and the forms of ``sagan_tf.ops`` it runs.
"""

from __future__ import annotations

import keras

from sagan_tf.layers.cond_bn import ConditionalBatchNormalization
from sagan_tf.layers.op_setting import resolve_ops
from sagan_tf.ops_choice import OpChoice


class ConditionalBlock(keras.layers.Layer):
    """Base of G's blocks; ``cbn(name)`` makes one of the block's conditional batch norms.

    Args:
        filters: output channels.
        num_classes: classes of the conditional batch norms (0: unconditional).
        bn_momentum: moving-statistics momentum of the batch norms.
        sync_bn: batch statistics over all replicas of a ``tf.distribute`` strategy.
        spectral_norm: spectrally normalized kernels (False: plain kernels).
        ops: the forms of ``sagan_tf.ops`` the block runs (``layers.op_setting``).
    """

    def __init__(
        self,
        filters: int,
        num_classes: int,
        bn_momentum: float = 0.9,
        sync_bn: bool = False,
        spectral_norm: bool = True,
        ops: str | OpChoice = "auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.num_classes = int(num_classes)
        self.bn_momentum = float(bn_momentum)
        self.sync_bn = bool(sync_bn)
        self.spectral_norm = bool(spectral_norm)
        self.ops = resolve_ops(ops)

    def cbn(self, name: str) -> ConditionalBatchNormalization:
        return ConditionalBatchNormalization(
            self.num_classes, self.bn_momentum, synchronized=self.sync_bn, ops=self.ops, name=name
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            num_classes=self.num_classes,
            bn_momentum=self.bn_momentum,
            sync_bn=self.sync_bn,
            spectral_norm=self.spectral_norm,
            ops=str(self.ops),
        )
        return config
