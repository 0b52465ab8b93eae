"""Spectral normalization (Miyato et al. 2018), as SAGAN uses it on every layer of G and D.

SAGAN section 4.1: "we use spectral normalization for both the generator and the discriminator".
The forward pass uses ``W_sn = W / sigma(W)`` where ``sigma`` is estimated with one step of power
iteration per training step (Miyato et al., Algorithm 1):

    v <- normalize(u W^T)        u <- normalize(v W)        sigma = v W u^T

with ``W`` the kernel reshaped to (fan_in, out). ``u`` and ``v`` are held constant for the gradient
(``stop_gradient``), so the gradient flows through ``sigma`` as in Miyato et al. eq. 12; ``u`` is a
non-trainable variable, identical on every replica (aggregation ``ONLY_FIRST_REPLICA``), advanced
only when ``training=True`` and no freeze is active (``layers.running_state.frozen_state``).

Unlike ``keras.layers.SpectralNormalization`` (which assigns ``W / sigma`` into the kernel in place,
with no gradient through sigma) and the end-of-life ``tensorflow_addons`` wrapper, the kernel
variable keeps the unnormalized ``W`` and normalization happens in ``call``. The op itself (dense,
convolution, transposed convolution, embedding lookup, or a block's op with this kernel) is
``KernelWrapper``'s, shared with ``PlainKernel``, the same layer without normalization (``kernel_layer``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.layers.kernel_wrapper import KernelWrapper, PlainKernel
from sagan_tf.layers.running_state import is_frozen
from sagan_tf.ops_choice import OpChoice


def _l2_normalize(x: tf.Tensor, eps: float) -> tf.Tensor:
    return x / (tf.norm(x) + eps)


@keras.saving.register_keras_serializable(package="sagan_tf")
class SpectralNormalization(KernelWrapper):
    """Wraps a ``Dense``, ``Conv2D`` (or ``Conv2DTranspose``) or ``Embedding`` with spectral norm.

    Usage: ``SpectralNormalization(keras.layers.Dense(8))``.

    Args:
        layer: the layer to wrap; its weight ``kernel`` (or ``embeddings``) is normalized.
        power_iterations: power-iteration steps per training call (SAGAN/Miyato: 1).
        epsilon: added to norms to avoid division by zero.
        ops: the forms of ``sagan_tf.ops`` the wrapper runs (its bias addition; ``layers.op_setting``).
    """

    def __init__(self, layer, power_iterations: int = 1, epsilon: float = 1e-12, **kwargs):
        super().__init__(layer, **kwargs)
        if power_iterations < 1:
            raise ValueError(f"power_iterations must be >= 1, got {power_iterations}")
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
        update = bool(training) and not is_frozen()
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

    def kernel(self, training: bool = False) -> tf.Tensor:
        return self.normalized_weight(training)

    def get_config(self):
        config = super().get_config()
        config.update(power_iterations=self.power_iterations, epsilon=self.epsilon)
        return config


def kernel_layer(layer, spectral_norm: bool = True, ops: str | OpChoice = "auto") -> KernelWrapper:
    """``layer`` spectrally normalized (``sn_NAME``), or with its plain kernel (``plain_NAME``) where
    a network is trained without spectral norm (``model.g_spectral_norm: false``, SAGAN section 5.1)."""
    if spectral_norm:
        return SpectralNormalization(layer, ops=ops, name=f"sn_{layer.name}")
    return PlainKernel(layer, ops=ops, name=f"plain_{layer.name}")
