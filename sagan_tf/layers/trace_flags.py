"""Switches that layers read while a ``tf.function`` is traced: they choose how a call is traced,
not what the weights are. Each is a nestable context: ``with frozen_state(): ...`` turns it on,
``frozen_state.active`` reads it.

* ``frozen_state``: a training call leaves the layer's running state where it is: spectral
  norm's power-iteration vector ``u`` and batch norm's moving mean and variance (the call still
  normalizes with batch statistics and differentiates through sigma). The GAN step uses it so that
  each network's state moves exactly once per step: G's is frozen while G draws the fakes of the D
  updates, D's while D scores the fakes of the G update. So ``bn_momentum`` means the same per step
  whatever ``train.d_steps`` is, like the spectral-norm estimate.
* ``unfolded_upsampling`` and ``unfolded_pooling``: the residual blocks resample in the textbook
  order (G upsamples, then convolves; D convolves, then average-pools) instead of the equivalent
  stride-2 convolutions of ``layers.folded_conv``; ``unfolded_resampling()`` turns both on (nominal
  FLOP counts, TFLite conversion, tests, the benchmarks' ablation).
* ``unfused_elementwise``: the element-wise work of training runs as TensorFlow's separate ops
  instead of the fused kernels of ``layers.scale_shift_relu`` (conditional batch norm's affine with
  the ReLU after it), ``layers.resample.add_upsampled`` (G's residual sum with the upsampled
  shortcut) and ``layers.channel_sums.add_bias`` (bias gradients as matmuls): the benchmarks'
  ablation, and the tests that compare the two.

``frozen_state`` is per thread, because ``MirroredStrategy`` traces each replica in its own thread
and a context entered inside one replica's trace must not leak into another's. The other switches
are process-wide, so that the replica threads see a context the caller entered.
"""

from __future__ import annotations

import contextlib
import threading
import types


class TraceFlag:
    """A nestable on/off switch: ``with flag(): ...`` turns it on, ``flag.active`` reads it.

    ``per_thread=True`` keeps the state per thread; ``per_thread=False`` makes it process-wide.
    """

    def __init__(self, per_thread: bool):
        self._state = threading.local() if per_thread else types.SimpleNamespace()

    @property
    def active(self) -> bool:
        return getattr(self._state, "depth", 0) > 0

    @contextlib.contextmanager
    def __call__(self):
        self._state.depth = getattr(self._state, "depth", 0) + 1
        try:
            yield
        finally:
            self._state.depth -= 1


frozen_state = TraceFlag(per_thread=True)
unfolded_upsampling = TraceFlag(per_thread=False)
unfolded_pooling = TraceFlag(per_thread=False)
unfused_elementwise = TraceFlag(per_thread=False)


def fused_elementwise(training) -> bool:
    """Whether a call traces the fused element-wise kernels: in training, outside ``unfused_elementwise()``."""
    return bool(training) and not unfused_elementwise.active


@contextlib.contextmanager
def unfolded_resampling():
    """Both resampling switches on: every block in the textbook order."""
    with unfolded_upsampling(), unfolded_pooling():
        yield
