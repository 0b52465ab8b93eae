"""The computations of SAGAN's networks that have a faster form, one module each.

Each op's module holds its ``reference`` implementation, the paper's and the official code's
sequence of operations, beside a ``fast`` one that computes the same function with fewer operations
or fewer passes over memory, chosen by the op's ``impl`` argument (``"reference"`` or ``"fast"``),
as StyleGAN2-ADA's ``torch_utils/ops`` do. The layers (``sagan_tf.layers``) call the ops and read as
the paper; which form each op runs is the model's ``ops`` setting (``sagan_tf.ops_choice``,
``model.ops``), never global state. ``tests/ops/`` checks every fast form against its reference,
forward and gradient, in float32 and bfloat16; their measured speed is in ``docs/performance.md``.

* ``upsample_conv3x3``: conv3x3(upsample_nearest(x)) (G), fast: one folded transposed convolution.
* ``conv3x3_avgpool``: avgpool2x2(conv3x3(x)) (D), fast: one folded stride-2 convolution.
* ``batch_norm``: training-mode normalization with batch statistics, fast: the fused kernel.
* ``scale_shift_relu``: relu(gamma * x + beta) per example (CBN -> ReLU), fast: XLA kernels.
* ``add_upsampled``: h + upsample_nearest(s) (G's residual sum), fast: one XLA kernel.
* ``bias_add``: x + bias, fast: the bias gradient as a matmul.

Beside them: ``attention`` (softmax(Q K^T) V whole, or in blocks of queries for memory,
``model.attention_chunk``), ``resample`` (the 2x resampling primitives) and ``channel_sums``.
"""

from sagan_tf.ops.add_upsampled import add_upsampled
from sagan_tf.ops.attention import attend, attention
from sagan_tf.ops.batch_norm import batch_norm, batch_norm_inference
from sagan_tf.ops.bias_add import bias_add
from sagan_tf.ops.conv_avgpool import conv3x3_avgpool
from sagan_tf.ops.resample import downsample_avg, upsample_nearest
from sagan_tf.ops.scale_shift_relu import scale_shift_relu
from sagan_tf.ops.upsample_conv import upsample_conv3x3

__all__ = [
    "add_upsampled", "attend", "attention", "batch_norm", "batch_norm_inference", "bias_add", "conv3x3_avgpool",
    "downsample_avg", "scale_shift_relu", "upsample_conv3x3", "upsample_nearest",
]
