"""Calls that read a layer's running state without advancing it.

Two kinds of layer carry state that a training call advances: spectral normalization's power-
iteration vector ``u`` and batch normalization's moving mean and variance. Inside ``frozen_state()``
a ``training=True`` call still trains (batch statistics, gradients through sigma) but leaves that
state where it is.

The GAN step uses it so that each network's state moves exactly once per training step: G's state
is frozen while G produces the fakes for the D updates, D's while D scores the fakes for the G
update. ``bn_momentum`` therefore means the same per step whatever ``train.d_steps`` is, as the
spectral-norm estimate does (see the README's list of choices where paper and code differ).

The flag is read while a ``tf.function`` is traced and is thread-local, because ``MirroredStrategy``
traces each replica in its own thread.
"""

from __future__ import annotations

from sagan_tf.trace_flags import TraceFlag

# ``with frozen_state(): ...``: training calls do not advance SN ``u`` or BN moving statistics;
# ``frozen_state.active`` tells a layer whether it is inside such a call.
frozen_state = TraceFlag(per_thread=True)
