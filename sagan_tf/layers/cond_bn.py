"""Conditional batch normalization (de Vries et al. 2017; Miyato & Koyama 2018), used by SAGAN's G.

SAGAN section 4.1 / official code: each generator block normalizes with batch statistics and no
affine parameters, then scales and shifts with per-class parameters:

    y = gamma[c] * (x - mean_B) / sqrt(var_B + eps) + beta[c]

``gamma`` is initialised to 1 and ``beta`` to 0, one row per class (an ``Embedding``). With
``num_classes = 0`` (unconditional) it is an ordinary batch norm with a learned affine. Instead of
integer labels the layer also takes class weights (B, num_classes), a mixture of the classes'
rows (``class_parameters``): how ``sagan-explore`` interpolates between two classes.
``synchronized=True`` computes the batch statistics over the global batch of all replicas
(``tf.distribute``), so training on N devices normalizes exactly as on one.

``textbook`` computes exactly that (Keras' ``BatchNormalization`` sublayer, which holds the moving
statistics, normalizes). ``call(..., relu=True)`` also applies the ReLU that follows every CBN in G.
In training, whenever the statistics are those of the local batch (one replica, or not
synchronized), ``call`` runs ``fused`` instead where ``layers.optimizations`` says so (the
default): the normalization as one kernel (``FusedBatchNormV3``, oneDNN on CPU, cuDNN on GPU;
float16/bfloat16 inputs are normalized in float32 inside the kernel; 2-3x faster for the layer,
same values), and the per-class affine with the ReLU as another (``layers.scale_shift_relu``).

Moving statistics: a training call updates them (``moving = momentum * moving + (1 - momentum) *
batch``) unless it runs inside ``layers.running_state.frozen_state()``, which normalizes with the
batch statistics and leaves the moving ones untouched (the GAN step advances them once per step, in
G's update).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.layers import optimizations
from sagan_tf.layers.running_state import is_frozen
from sagan_tf.layers.scale_shift_relu import scale_shift_relu


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

    def call(self, x, labels=None, training=None, relu: bool = False):
        """CBN(x, labels); ``relu=True`` returns ReLU(CBN(x, labels)), the pre-activation blocks' "CBN -> ReLU"."""
        if self.num_classes > 0 and labels is None:
            raise ValueError("ConditionalBatchNormalization with num_classes > 0 needs labels")
        if self.num_classes == 0:
            labels = tf.zeros([tf.shape(x)[0]], tf.int32)
        gamma, beta = self.class_parameters(labels)
        if self._fusable(x, training):
            return self.fused(x, gamma, beta, relu)
        return self.textbook(x, gamma, beta, training, relu)

    def textbook(self, x, gamma, beta, training=None, relu: bool = False):
        """gamma[c] * (x - mean) / sqrt(var + eps) + beta[c]: batch statistics in training (moving ones
        updated unless frozen), moving statistics in inference."""
        if training and self.batch_norm.trainable and is_frozen():
            normalized = self._batch_statistics_normalization(x)
        else:
            normalized = self.batch_norm(x, training=training)
        return self._scale_shift(normalized, gamma, beta, relu)

    def fused(self, x, gamma, beta, relu: bool = False):
        """``textbook`` in training with local batch statistics: the normalization as one kernel, and with
        ``relu`` the affine and the ReLU as another (``fused_elementwise``). Same values."""
        normalized = self._fused_training_normalization(x, update=not is_frozen())
        if relu and optimizations.fused_elementwise(True):
            gamma, beta = tf.cast(gamma, normalized.dtype), tf.cast(beta, normalized.dtype)
            return scale_shift_relu(normalized, gamma, beta)
        return self._scale_shift(normalized, gamma, beta, relu)

    @staticmethod
    def _scale_shift(normalized, gamma, beta, relu: bool):
        gamma, beta = tf.cast(gamma, normalized.dtype), tf.cast(beta, normalized.dtype)
        shape = [-1] + [1] * (normalized.shape.rank - 2) + [normalized.shape[-1]]
        outputs = tf.reshape(gamma, shape) * normalized + tf.reshape(beta, shape)
        return tf.nn.relu(outputs) if relu else outputs

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

    def _fusable(self, x, training) -> bool:
        """Whether ``fused`` computes this call: training, local batch statistics, a 4-D float input."""
        if not optimizations.enabled("fused_batch_norm"):
            return False
        if not training or not self.batch_norm.trainable or x.shape.rank != 4:
            return False
        if x.dtype not in (tf.float32, tf.bfloat16, tf.float16):  # the fused kernel's input types
            return False
        context = tf.distribute.get_replica_context()
        return not (self.synchronized and context is not None and context.num_replicas_in_sync > 1)

    def _fused_training_normalization(self, x, update: bool):
        """(x - mean_B) / sqrt(var_B + eps) in one kernel; ``update``: also the moving statistics."""
        bn = self.batch_norm
        channels = int(x.shape[-1])
        normalized, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x, tf.ones([channels]), tf.zeros([channels]), epsilon=bn.epsilon, is_training=True
        )
        if not update:
            return normalized
        # The kernel returns the unbiased batch variance (for the moving average); Keras averages the
        # biased one, which is also what normalized the batch.
        count = tf.cast(tf.size(x) // channels, tf.float32)
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        bn.moving_mean.assign(bn.moving_mean * bn.momentum + mean * (1.0 - bn.momentum))
        bn.moving_variance.assign(bn.moving_variance * bn.momentum + variance * (1.0 - bn.momentum))
        return normalized

    def _batch_statistics_normalization(self, x):
        """The sublayer's training-mode computation (synchronized statistics included) without its
        moving-statistics update: Keras' ``BatchNormalization.call`` minus the two assignments."""
        bn = self.batch_norm
        inputs = tf.cast(x, keras.backend.result_type(x.dtype, "float32"))
        axes = list(range(x.shape.rank - 1))
        mean, variance = keras.ops.moments(inputs, axes=axes, synchronized=self.synchronized)
        outputs = keras.ops.batch_normalization(inputs, mean, variance, axis=-1, epsilon=bn.epsilon)
        return tf.cast(outputs, bn.compute_dtype)

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
