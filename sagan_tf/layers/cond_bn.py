"""Conditional batch normalization (de Vries et al. 2017; Miyato & Koyama 2018), used by SAGAN's G.

SAGAN section 4.1 / official code: each generator block normalizes with batch statistics and no
affine parameters, then scales and shifts with per-class parameters:

    y = gamma[c] * (x - mean_B) / sqrt(var_B + eps) + beta[c]

``gamma`` is initialised to 1 and ``beta`` to 0, one row per class (an ``Embedding``). With
``num_classes = 0`` (unconditional) it is an ordinary batch norm with a learned affine.
``synchronized=True`` computes the batch statistics over the global batch of all replicas
(``tf.distribute``), so training on N devices normalizes exactly as on one.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="sagan_tf")
class ConditionalBatchNormalization(keras.layers.Layer):
    """``call(x, labels, training)``: batch norm of ``x`` with per-class gain and bias.

    Args:
        num_classes: number of classes; 0 for an unconditional (single gamma/beta) batch norm.
        momentum: moving-statistics momentum (moving = momentum * moving + (1 - momentum) * batch).
        epsilon: variance epsilon.
        synchronized: cross-replica batch statistics under a ``tf.distribute`` strategy.
    """

    def __init__(
        self,
        num_classes: int,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        synchronized: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.synchronized = bool(synchronized)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.batch_norm = keras.layers.BatchNormalization(
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=False,
            scale=False,
            synchronized=self.synchronized,
            name="batch_norm",
        )
        self.batch_norm.build(input_shape)
        rows = max(self.num_classes, 1)
        self.gamma = keras.layers.Embedding(rows, channels, embeddings_initializer="ones", name="gamma")
        self.beta = keras.layers.Embedding(rows, channels, embeddings_initializer="zeros", name="beta")
        self.gamma.build((None,))
        self.beta.build((None,))
        self.built = True

    def call(self, x, labels=None, training=None):
        normalized = self.batch_norm(x, training=training)
        if self.num_classes > 0:
            if labels is None:
                raise ValueError("ConditionalBatchNormalization with num_classes > 0 needs labels")
            index = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        else:
            index = tf.zeros([tf.shape(x)[0]], tf.int32)
        shape = [-1] + [1] * (x.shape.rank - 2) + [x.shape[-1]]
        gamma = tf.reshape(tf.cast(self.gamma(index), normalized.dtype), shape)
        beta = tf.reshape(tf.cast(self.beta(index), normalized.dtype), shape)
        return gamma * normalized + beta

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            momentum=self.momentum,
            epsilon=self.epsilon,
            synchronized=self.synchronized,
        )
        return config
