"""The one place that chooses between the paper's textbook computation and its faster equivalents.

Every layer of ``sagan_tf.layers`` writes its computation as the paper and the official code do
(``textbook`` methods), and beside it a form that computes the same function with fewer operations
or fewer passes over memory. The layers ask this module which form to trace; all optimisations are
on by default, and each is tested against the textbook form (``tests/layers/``):

* ``fold_upsampling`` (G's residual blocks, ``layers.folded_conv``): ``conv3x3(up2(h))`` as one
  stride-2 transposed convolution of ``h`` (4 instead of 9 multiply-adds per output), and the
  shortcut ``conv1x1(up2(x))`` as ``up2(conv1x1(x))``.
* ``fold_pooling`` (D's residual blocks): ``avgpool2(conv3x3(h))`` as one stride-2 convolution of
  ``h`` with a 4x4 kernel (2.25x fewer multiply-adds), and the shortcut ``avgpool2(conv1x1(x))`` as
  ``conv1x1(avgpool2(x))``.
* ``fused_batch_norm`` (``ConditionalBatchNormalization`` in training, when its statistics are
  those of the local batch): the normalization as one ``FusedBatchNormV3`` kernel.
* ``fused_elementwise`` (training only): conditional batch norm's per-class affine and the ReLU
  after it as one kernel (``layers.scale_shift_relu``), G's residual sum with its upsampled shortcut
  as one (``layers.resample.add_upsampled``), and bias additions whose gradient is a matmul
  (``layers.channel_sums.add_bias``).

``with disabled("fold_pooling"): ...`` (or ``textbook()``, all of them) turns optimisations off for
every function traced inside the block, in every thread: a ``tf.function`` keeps the form it was
traced with. TFLite conversion traces with ``textbook_resampling()`` (the plain resize and pooling
ops convert to TFLite builtins); the benchmarks time each optimisation and count the textbook FLOPs
with it; the tests compare the two forms.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator

OPTIMIZATIONS = ("fold_upsampling", "fold_pooling", "fused_batch_norm", "fused_elementwise")

_disabled: collections.Counter[str] = collections.Counter()  # process-wide: replica threads see it too


def enabled(name: str) -> bool:
    """Whether optimisation ``name`` is traced (not turned off by an enclosing ``disabled``)."""
    if name not in OPTIMIZATIONS:
        raise ValueError(f"unknown optimisation {name!r} (known: {', '.join(OPTIMIZATIONS)})")
    return _disabled[name] == 0


def fused_elementwise(training) -> bool:
    """Whether a call traces the fused element-wise kernels: in training, unless turned off."""
    return bool(training) and enabled("fused_elementwise")


@contextlib.contextmanager
def disabled(*names: str) -> Iterator[None]:
    """Functions traced inside the block compute ``names`` in the textbook form (nestable)."""
    for name in names:
        enabled(name)  # validates the name
    _disabled.update(names)
    try:
        yield
    finally:
        _disabled.subtract(names)


def textbook() -> contextlib.AbstractContextManager[None]:
    """Every layer in the textbook form: the paper's order of operations, no fused kernels."""
    return disabled(*OPTIMIZATIONS)


def textbook_resampling() -> contextlib.AbstractContextManager[None]:
    """Both residual-block foldings off: G upsamples, then convolves; D convolves, then pools."""
    return disabled("fold_upsampling", "fold_pooling")
