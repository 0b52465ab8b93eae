"""``h + upsample_nearest(s)``: the sum of G's residual block (``ops_choice``: ``add_upsampled``).

G's block adds its shortcut, a 1x1 convolution of the block's input, to the residual branch at
twice the shortcut's resolution (``layers.blocks.GeneratorBlock``).

* ``reference``: upsample s (one pass writing the 4x larger tensor), then add (reading it back).
* ``fast``: one XLA-compiled loop that reads h and s once and writes the sum; its gradient is dy
  for h and the 2x2 block sums of dy for s. XLA compiles one kernel per input shape, so this form
  runs in training calls only (``ops_choice.TRAINING_ONLY``).
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf.ops.forms import is_fast
from sagan_tf.ops.resample import sum_2x2_blocks, upsample_nearest


def reference_add_upsampled(h: tf.Tensor, s: tf.Tensor) -> tf.Tensor:
    return h + upsample_nearest(s)


@tf.function(jit_compile=True)
def _add_upsampled_kernel(h, s):
    batch, height, width, channels = tf.shape(s)[0], s.shape[1], s.shape[2], s.shape[3]
    up = tf.broadcast_to(s[:, :, None, :, None, :], [batch, height, 2, width, 2, channels])
    return h + tf.reshape(up, [batch, 2 * height, 2 * width, channels])


@tf.custom_gradient
def fast_add_upsampled(h: tf.Tensor, s: tf.Tensor):
    def grad(dy):
        return dy, sum_2x2_blocks(dy)

    return _add_upsampled_kernel(h, s), grad


def add_upsampled(h: tf.Tensor, s: tf.Tensor, *, impl: str = "reference") -> tf.Tensor:
    """``h + upsample_nearest(s)`` for h (B, 2H, 2W, C) and s (B, H, W, C) of one dtype."""
    return fast_add_upsampled(h, s) if is_fast(impl) else reference_add_upsampled(h, s)
