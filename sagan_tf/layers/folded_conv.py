"""Moved to ``sagan_tf.ops.upsample_conv`` and ``sagan_tf.ops.conv_avgpool``: this path works for one
more release, with the old meaning of each name.

Here ``upsample_conv3x3`` and ``conv3x3_avgpool`` take the *folded* 4x4 kernel (of
``fold_nearest_upsample`` / ``fold_avgpool``); the ops of the same name take the 3x3 kernel and an
``impl`` argument.
"""

import warnings

from sagan_tf.ops.conv_avgpool import FOLD_POOL, fold_avgpool
from sagan_tf.ops.conv_avgpool import strided_conv_folded as conv3x3_avgpool
from sagan_tf.ops.upsample_conv import FOLD_UP, fold_nearest_upsample
from sagan_tf.ops.upsample_conv import transposed_conv_folded as upsample_conv3x3

warnings.warn("sagan_tf.layers.folded_conv has moved to sagan_tf.ops.upsample_conv and sagan_tf.ops.conv_avgpool "
              "(their functions take the 3x3 kernel and impl='fast'); import those instead (the old path goes in "
              "the next release)", FutureWarning, stacklevel=2)

__all__ = ["FOLD_POOL", "FOLD_UP", "conv3x3_avgpool", "fold_avgpool", "fold_nearest_upsample", "upsample_conv3x3"]
