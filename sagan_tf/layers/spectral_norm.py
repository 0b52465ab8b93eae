"""Spectral normalization (Miyato et al. 2018), as SAGAN uses it on every layer of G and D.

SAGAN section 4.1: "we use spectral normalization for both the generator and the discriminator".
The forward pass uses ``W_sn = W / sigma(W)`` where ``sigma`` is estimated with one step of power
iteration per training step (Miyato et al., Algorithm 1):

    v <- normalize(u W^T)        u <- normalize(v W)        sigma = v W u^T

with ``W`` the kernel reshaped to (fan_in, out). ``u`` and ``v`` are held constant for the gradient
(``stop_gradient``), so the gradient flows through ``sigma`` as in Miyato et al. eq. 12; ``u`` is a
non-trainable variable, identical on every replica (aggregation ``ONLY_FIRST_REPLICA``), advanced
only when ``training=True`` and no freeze is active (``layers.trace_flags.frozen_state``).

Unlike ``keras.layers.SpectralNormalization`` (which assigns ``W / sigma`` into the kernel in place,
with no gradient through sigma) and the end-of-life ``tensorflow_addons`` wrapper, the kernel
variable keeps the unnormalized ``W`` and normalization happens in ``call``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.layers.folded_conv import conv3x3_avgpool, fold_avgpool, fold_nearest_upsample, upsample_conv3x3
from sagan_tf.layers.trace_flags import frozen_state


def _l2_normalize(x: tf.Tensor, eps: float) -> tf.Tensor:
    return x / (tf.norm(x) + eps)


@keras.saving.register_keras_serializable(package="sagan_tf")
class SpectralNormalization(keras.layers.Wrapper):
    """Wraps a ``Dense``, ``Conv2D`` (or ``Conv2DTranspose``) or ``Embedding`` with spectral norm.

    Usage: ``SpectralNormalization(keras.layers.Dense(8))``.

    Args:
        layer: the layer to wrap; its weight ``kernel`` (or ``embeddings``) is normalized.
        power_iterations: power-iteration steps per training call (SAGAN/Miyato: 1).
        epsilon: added to norms to avoid division by zero.
    """

    def __init__(self, layer, power_iterations: int = 1, epsilon: float = 1e-12, **kwargs):
        # Read W and u in float32 and cast W_sn to the wrapped layer's compute dtype. A float32 policy
        # for the wrapper itself (the wrapped layer keeps its own, possibly mixed, policy) stops Keras
        # from opening a bfloat16/float16 autocast scope around ``call`` under a mixed policy.
        kwargs.setdefault("autocast", False)
        kwargs.setdefault("dtype", "float32")
        super().__init__(layer, **kwargs)
        if power_iterations < 1:
            raise ValueError(f"power_iterations must be >= 1, got {power_iterations}")
        if not isinstance(
            layer,
            (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Embedding),
        ):
            raise TypeError(
                "SpectralNormalization wraps Dense, Conv2D, Conv2DTranspose or Embedding, "
                f"got {type(layer).__name__}"
            )
        self.power_iterations = power_iterations
        self.epsilon = epsilon

    def build(self, input_shape=None):
        super().build(input_shape)
        weight = self._weight_variable()
        out_dim = self._matrix_shape(weight.shape)[1]
        self.u = self.add_weight(
            name="sn_u",
            shape=(1, out_dim),
            initializer=keras.initializers.RandomNormal(0.0, 1.0),
            trainable=False,
            aggregation="only_first_replica",
        )
        self.built = True

    def _weight_variable(self):
        if isinstance(self.layer, keras.layers.Embedding):
            return self.layer.embeddings
        return self.layer.kernel

    def _matrix_shape(self, shape):
        shape = tuple(int(d) for d in shape)
        if isinstance(self.layer, keras.layers.Conv2DTranspose):
            # Kernel (kh, kw, out, in): the map's output dimension is axis 2.
            kh, kw, out, cin = shape
            return (kh * kw * cin, out)
        fan_in = 1
        for d in shape[:-1]:
            fan_in *= d
        return (fan_in, shape[-1])

    def _as_matrix(self, w: tf.Tensor) -> tf.Tensor:
        if isinstance(self.layer, keras.layers.Conv2DTranspose):
            w = tf.transpose(w, [0, 1, 3, 2])
        return tf.reshape(w, self._matrix_shape(self._weight_variable().shape))

    def normalized_weight(self, training: bool = False) -> tf.Tensor:
        """Returns ``W / sigma(W)`` (float32), advancing ``u`` only when ``training`` is true."""
        w = tf.convert_to_tensor(self._weight_variable().value, dtype=tf.float32)
        w_mat = self._as_matrix(w)
        u = tf.convert_to_tensor(self.u.value, dtype=tf.float32)
        update = bool(training) and not frozen_state.active
        if update:
            for _ in range(self.power_iterations):
                v = _l2_normalize(tf.matmul(u, w_mat, transpose_b=True), self.epsilon)
                u = _l2_normalize(tf.matmul(v, w_mat), self.epsilon)
            u = tf.stop_gradient(u)
            v = tf.stop_gradient(v)
            self.u.assign(u)
        else:
            # Inference: no state change; sigma from the stored u (one half-step, v from u).
            # u is normalized here: the initial u is a raw N(0, 1) draw (norm ~ sqrt(out)), and
            # sigma = v W u^T is only a valid estimate (<= sigma_max) for a unit u.
            u = tf.stop_gradient(_l2_normalize(u, self.epsilon))
            v = tf.stop_gradient(_l2_normalize(tf.matmul(u, w_mat, transpose_b=True), self.epsilon))
        sigma = tf.reshape(tf.matmul(tf.matmul(v, w_mat), u, transpose_b=True), [])
        return w / sigma

    def call(self, inputs, training=None, upsample: bool = False, avgpool: bool = False):
        """The wrapped layer with ``W / sigma(W)``.

        For a 3x3 'same' stride-1 ``Conv2D`` (``layers.folded_conv``; same values, 2.25x fewer
        multiply-adds): ``upsample=True`` applies it to the 2x nearest-neighbour upsampled
        ``inputs`` as one transposed convolution of ``inputs``; ``avgpool=True`` returns its output
        2x2 average-pooled, as one stride-2 convolution of ``inputs``. The bias commutes with both.
        """
        w = self.normalized_weight(training)
        layer = self.layer
        if upsample or avgpool:
            self._check_foldable()
            w = fold_nearest_upsample(w) if upsample else fold_avgpool(w)
        w = tf.cast(w, layer.compute_dtype)
        if isinstance(layer, keras.layers.Embedding):
            return tf.gather(w, tf.cast(inputs, tf.int32))
        inputs = tf.cast(inputs, layer.compute_dtype)
        if upsample:
            outputs = upsample_conv3x3(inputs, w)
        elif avgpool:
            outputs = conv3x3_avgpool(inputs, w)
        elif isinstance(layer, keras.layers.Dense):
            outputs = tf.tensordot(inputs, w, axes=[[inputs.shape.rank - 1], [0]])
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            outputs = _conv2d_transpose(layer, inputs, w)
        else:
            outputs = layer.convolution_op(inputs, w)
        if layer.use_bias:
            outputs = outputs + tf.cast(layer.bias.value, layer.compute_dtype)
        if layer.activation is not None:
            outputs = layer.activation(outputs)
        return outputs

    def _check_foldable(self):
        layer = self.layer
        ok = (
            type(layer) is keras.layers.Conv2D
            and tuple(layer.kernel_size) == (3, 3)
            and tuple(layer.strides) == (1, 1)
            and tuple(layer.dilation_rate) == (1, 1)
            and layer.padding == "same"
            and layer.data_format == "channels_last"
            and layer.groups == 1
        )
        if not ok:
            raise ValueError("upsample=True or avgpool=True needs a 3x3, stride-1, 'same', channels_last Conv2D")

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(power_iterations=self.power_iterations, epsilon=self.epsilon)
        return config


def _conv2d_transpose(layer: keras.layers.Conv2DTranspose, inputs: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
    """Transposed convolution with an explicit kernel, channels_last, static spatial shape."""
    if layer.data_format != "channels_last":
        raise ValueError("SpectralNormalization supports channels_last Conv2DTranspose only")
    _, out_h, out_w, _ = layer.compute_output_shape(inputs.shape)
    batch = tf.shape(inputs)[0]
    output_shape = tf.stack([batch, out_h, out_w, layer.filters])
    return tf.nn.conv2d_transpose(
        inputs, w, output_shape, strides=layer.strides, padding=layer.padding.upper(), dilations=layer.dilation_rate
    )
