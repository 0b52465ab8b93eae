"""Conditional batch normalization (de Vries et al. 2017; Miyato & Koyama 2018), used by SAGAN's G.

SAGAN section 4.1 / official code: each generator block normalizes with batch statistics and no
affine parameters, then scales and shifts with per-class parameters:

    y = gamma[c] * (x - mean_B) / sqrt(var_B + eps) + beta[c]

``gamma`` is initialised to 1 and ``beta`` to 0, one row per class (an ``Embedding``). With
``num_classes = 0`` (unconditional) it is an ordinary batch norm with a learned affine. Instead of
integer labels the layer also takes class weights (B, num_classes), a mixture of the classes'
rows (``class_parameters``): how ``sagan-explore`` interpolates between two classes.
``synchronized=True`` computes the batch statistics over the global batch of all replicas
(``tf.distribute``), so training on N devices normalizes exactly as on one. ``call(..., relu=True)``
also applies the ReLU that follows every CBN in G.

Moving statistics (for inference): a training call updates them once,
``moving = momentum * moving + (1 - momentum) * batch``, unless it runs inside
``layers.running_state.frozen_state()``, which normalizes with the batch statistics and leaves the
moving ones untouched (the GAN step advances them once per step, in G's update). An inference call,
or a training call of a layer that is not ``trainable``, normalizes with the moving statistics.

The computations are ``ops.batch_norm`` (training), ``ops.batch_norm_inference`` and
``ops.scale_shift_relu``, in the forms the layer's ``ops`` setting names.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf import ops
from sagan_tf.layers.op_setting import resolve_ops
from sagan_tf.layers.running_state import is_frozen
from sagan_tf.ops_choice import OpChoice


class MovingStatistics(keras.layers.Layer):
    """The moving mean and variance of a batch norm (float32, not trained); its variables have the
    paths of a Keras ``BatchNormalization`` named like it, so checkpoints read either."""

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.moving_mean = self.add_weight(
            name="moving_mean", shape=(channels,), initializer="zeros", trainable=False, autocast=False
        )
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=(channels,), initializer="ones", trainable=False, autocast=False
        )
        self.built = True

    def update(self, mean, variance, momentum: float) -> None:
        """moving = momentum * moving + (1 - momentum) * batch statistic."""
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            current = tf.convert_to_tensor(moving)
            moving.assign(current * momentum + tf.cast(batch, current.dtype) * (1.0 - momentum))


@keras.saving.register_keras_serializable(package="sagan_tf")
class ConditionalBatchNormalization(keras.layers.Layer):
    """``call(x, labels, training, relu=False)``: batch norm of ``x`` with per-class gain and bias.

    Args:
        num_classes: number of classes; 0 for an unconditional (single gamma/beta) batch norm.
        momentum: moving-statistics momentum (moving = momentum * moving + (1 - momentum) * batch).
        epsilon: variance epsilon.
        synchronized: cross-replica batch statistics under a ``tf.distribute`` strategy.
        ops: the forms of ``sagan_tf.ops`` the layer runs (``layers.op_setting``).
    """

    def __init__(
        self,
        num_classes: int,
        momentum: float = 0.9,
        epsilon: float = 1e-5,
        synchronized: bool = False,
        ops: str | OpChoice = "auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.synchronized = bool(synchronized)
        self.ops = resolve_ops(ops)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.batch_norm = MovingStatistics(name="batch_norm")
        self.batch_norm.build(input_shape)
        rows = max(self.num_classes, 1)
        self.gamma = keras.layers.Embedding(rows, channels, embeddings_initializer="ones", name="gamma")
        self.beta = keras.layers.Embedding(rows, channels, embeddings_initializer="zeros", name="beta")
        self.gamma.build((None,))
        self.beta.build((None,))
        self.built = True

    def call(self, x, labels=None, training=None, relu: bool = False):
        """gamma[y] * BN(x) + beta[y]; ``relu=True``: ReLU of it, the pre-activation blocks' "CBN -> ReLU"."""
        if self.num_classes > 0 and labels is None:
            raise ValueError("ConditionalBatchNormalization with num_classes > 0 needs labels")
        if self.num_classes == 0:
            labels = tf.zeros([tf.shape(x)[0]], tf.int32)
        gamma, beta = self.class_parameters(labels)
        normalized = self.normalize(x, training)
        gamma, beta = tf.cast(gamma, normalized.dtype), tf.cast(beta, normalized.dtype)
        if relu and normalized.shape.rank == 4:
            return ops.scale_shift_relu(normalized, gamma, beta, impl=self.ops.impl("scale_shift_relu", training))
        shape = [-1] + [1] * (normalized.shape.rank - 2) + [normalized.shape[-1]]
        outputs = tf.reshape(gamma, shape) * normalized + tf.reshape(beta, shape)
        return tf.nn.relu(outputs) if relu else outputs

    def normalize(self, x, training=None):
        """(x - mean) / sqrt(var + eps): the batch's statistics in training (the moving ones updated
        unless frozen), the moving statistics in inference."""
        stats = self.batch_norm
        if training and self.trainable:
            normalized, mean, variance = ops.batch_norm(
                x, self.epsilon, synchronized=self.synchronized, impl=self.ops.impl("batch_norm", training)
            )
            if not is_frozen():
                stats.update(mean, variance, self.momentum)
            return normalized
        return ops.batch_norm_inference(x, stats.moving_mean, stats.moving_variance, self.epsilon)

    def class_parameters(self, labels):
        """Per-example rows (gamma, beta), each (B, C).

        Integer labels (B,) look their class's rows up. Floating-point class weights w (B,
        num_classes) mix the classes: gamma = w @ gamma_table, beta = w @ beta_table, so a one-hot
        row gives exactly its class's parameters and (1 - t) e_a + t e_b walks from class a to b.
        """
        labels = tf.convert_to_tensor(labels)
        if labels.dtype.is_floating and labels.shape.rank == 2:
            weights = tf.cast(labels, self.gamma.embeddings.dtype)
            return (tf.matmul(weights, tf.convert_to_tensor(self.gamma.embeddings)),
                    tf.matmul(weights, tf.convert_to_tensor(self.beta.embeddings)))
        index = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        return self.gamma(index), self.beta(index)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            momentum=self.momentum,
            epsilon=self.epsilon,
            synchronized=self.synchronized,
            ops=str(self.ops),
        )
        return config
