"""Exponential moving average of the generator (BigGAN, Brock et al. 2019, section 4 / appendix).

A shadow ``Generator`` of the same architecture holds, for every floating variable of G (trainable
weights *and* non-trainable state: batch-norm moving statistics, spectral-norm ``u``),

    shadow <- shadow - (1 - decay_s) * (shadow - raw),   decay_s = 0 if s <= start else decay

after each generator update, where ``s`` is the step counter after that update (``SAGAN.step``).
A generator update that loss scaling skipped leaves the shadow as it is.
Until ``start`` the shadow is a copy of G (BigGAN's ``ema_start``); afterwards it averages. Sampling,
evaluation and export read the shadow (``run_dir.load_generator(logdir, ema=True)``).

Distribution: the update runs once per step in cross-replica context (``merge_call``) through
``strategy.extended.update``, each device's shadow moving toward the *first* replica's raw value, so
the shadow is identical on every replica even for state that a strategy does not keep in sync
(e.g. unsynchronized batch-norm statistics). G's trainable weights are identical on every replica
anyway (``apply_gradients`` sums the replicas' gradients).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.models import Generator

SHADOW_NAME = "generator_ema"


def _tf_variable(variable):
    """The ``tf.Variable`` (possibly a ``MirroredVariable``) behind a Keras variable."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _is_float(variable) -> bool:
    return tf.as_dtype(variable.dtype).is_floating


class GeneratorEMA:
    """The shadow generator and its update; create it inside the strategy scope of G.

    Args:
        generator: the trained ``Generator`` (built).
        decay: averaging decay in (0, 1), e.g. 0.999.
        start: the shadow copies G while the step counter is <= ``start``.
    """

    def __init__(self, generator: Generator, decay: float, start: int = 0):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        if start < 0:
            raise ValueError(f"EMA start must be >= 0, got {start}")
        self.decay = float(decay)
        self.start = int(start)
        self.source = generator
        config = dict(generator.get_config(), name=SHADOW_NAME)
        self.generator = type(generator).from_config(config)
        self.generator.build()
        self.generator.trainable = False
        self._pairs = _pair_variables(generator, self.generator)
        self.copy_from_source()

    @property
    def variable_pairs(self) -> list[tuple[keras.Variable, keras.Variable]]:
        """(raw, shadow) for every averaged variable, in G's variable order."""
        return list(self._pairs)

    def decay_at(self, step) -> tf.Tensor:
        """The decay applied by the update that completes step ``step`` (0 until ``start``)."""
        step = tf.cast(step, tf.int64)
        return tf.where(step <= self.start, tf.constant(0.0, tf.float32), tf.constant(self.decay, tf.float32))

    def copy_from_source(self) -> None:
        """shadow <- raw for every variable (cross-replica context, e.g. after building or restoring)."""
        for raw, shadow in self._pairs:
            shadow.assign(tf.convert_to_tensor(raw))

    def update(self, step, applied=True) -> None:
        """One EMA step; call once per generator update, from replica or cross-replica context.

        ``applied`` false (a skipped update) makes the step a no-op: decay 1 moves the shadow by
        exactly ``0 * (shadow - G)``.
        """
        decay = tf.where(applied, self.decay_at(step), tf.constant(1.0, tf.float32))
        values = [tf.convert_to_tensor(raw) for raw, _ in self._pairs]
        ctx = tf.distribute.get_replica_context()
        if ctx is None:  # already in cross-replica context
            self._merge_update(tf.distribute.get_strategy(), values, decay)
        else:
            ctx.merge_call(self._merge_update, args=(values, decay))

    def _merge_update(self, strategy: tf.distribute.Strategy, values, decay) -> None:
        first = strategy.experimental_local_results(decay)[0]

        def move(shadow, value, d):
            shadow.assign_sub((1.0 - tf.cast(d, shadow.dtype)) * (shadow - tf.cast(value, shadow.dtype)))

        for (_, shadow), value in zip(self._pairs, values, strict=True):
            value = strategy.experimental_local_results(value)[0]  # the first replica's raw value
            strategy.extended.update(_tf_variable(shadow), move, args=(value, first), group=False)


def _pair_variables(raw: keras.Model, shadow: keras.Model) -> list[tuple[keras.Variable, keras.Variable]]:
    raw_vars = [v for v in raw.variables if _is_float(v)]
    shadow_vars = [v for v in shadow.variables if _is_float(v)]
    if len(raw_vars) != len(shadow_vars):
        raise ValueError(f"EMA: G has {len(raw_vars)} float variables, the shadow {len(shadow_vars)}")
    for a, b in zip(raw_vars, shadow_vars, strict=True):
        if tuple(a.shape) != tuple(b.shape) or a.path.split("/", 1)[-1] != b.path.split("/", 1)[-1]:
            raise ValueError(f"EMA: variable {a.path} {tuple(a.shape)} does not match {b.path} {tuple(b.shape)}")
    return list(zip(raw_vars, shadow_vars, strict=True))
