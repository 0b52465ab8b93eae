"""XLA compilation (``jit_compile``) of the training step, where it works.

Single device: ``maybe_jit`` compiles ``SAGAN.train_step`` with XLA (the input pipeline stays outside
the compiled function). Whether it helps depends on the device (what has been measured is in
``docs/performance.md``); on GPUs XLA's fusion of the element-wise work (batch norm, ReLU,
spectral norm) usually pays.

Several replicas: compiling the replica function of ``MirroredStrategy`` with two or more devices
fails on TensorFlow 2.21 ("Trying to access resource g_adam/iteration/replica_1 located in device
CPU:1 from device CPU:0"; a one-device ``MirroredStrategy`` compiles), and collectives of
``MultiWorkerMirroredStrategy`` are not compiled either, so ``maybe_jit`` falls back to the ordinary
graph with a warning instead of crashing.

Ops without an XLA kernel: ``ResizeNearestNeighborGrad`` has none on XLA:CPU, so
``ops.resample.upsample_nearest`` differentiates through an average pooling instead (same values).
"""

from __future__ import annotations

import warnings

import tensorflow as tf


def jit_unsupported_reason(strategy: tf.distribute.Strategy) -> str | None:
    """Why ``strategy``'s replica function cannot be XLA-compiled here, or None if it can."""
    multiworker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if strategy.num_replicas_in_sync > 1 or multiworker:
        return (
            f"jit_compile is not used under {type(strategy).__name__}: XLA compilation of the replicated "
            "step fails on TensorFlow 2.21 (resource located on another device); running uncompiled"
        )
    return None


def maybe_jit(train_step, strategy: tf.distribute.Strategy, jit_compile: bool):
    """``train_step`` compiled with XLA when asked for and possible; returns ``(fn, fallback_reason)``."""
    if not jit_compile:
        return train_step, None
    reason = jit_unsupported_reason(strategy)
    if reason is not None:
        warnings.warn(reason, RuntimeWarning, stacklevel=2)
        return train_step, reason

    return tf.function(train_step, jit_compile=True), None
