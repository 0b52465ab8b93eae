"""A layer computed with a kernel chosen at call time, and its unnormalized form.

``KernelWrapper`` wraps a ``Dense``, ``Conv2D``, ``Conv2DTranspose`` or ``Embedding`` and applies
the wrapped layer's op with the kernel that ``kernel(training)`` returns (float32, cast to the
wrapped layer's compute dtype), plus its bias (``ops.bias_add``) and activation. A block may put
another computation with the same kernel in place of the wrapped op (``call(x, op=...)``: G's
upsampling convolution, D's pooled one). Two subclasses:

* ``layers.spectral_norm.SpectralNormalization``: ``W / sigma(W)`` (SAGAN section 4.1).
* ``PlainKernel``: ``W`` itself. SAGAN section 5.1 (Figure 3) trains a baseline with spectral
  normalization in D only, "SN on D" (the SN-GAN with a projection discriminator of Miyato &
  Koyama); G's layers are then ``PlainKernel`` and have no ``sn_u`` variable. It computes exactly
  what the wrapped Keras layer computes, through the same call path as its normalized twin.

``layers.spectral_norm.kernel_layer(layer, spectral_norm, ops)`` makes either, named ``sn_NAME`` or
``plain_NAME`` after the wrapped layer (a checkpoint names variables by these paths, so the two never
load into each other).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from sagan_tf import ops
from sagan_tf.layers.op_setting import resolve_ops
from sagan_tf.ops_choice import OpChoice

WRAPPABLE = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Embedding)


class KernelWrapper(keras.layers.Wrapper):
    """The wrapped layer's op with ``self.kernel(training)`` in place of its weight; subclasses
    define ``kernel``. ``ops``: the forms of ``sagan_tf.ops`` it runs (``layers.op_setting``)."""

    def __init__(self, layer, ops: str | OpChoice = "auto", **kwargs):
        # Read W in float32 and cast the kernel to the wrapped layer's compute dtype. A float32 policy
        # for the wrapper itself (the wrapped layer keeps its own, possibly mixed, policy) stops Keras
        # from opening a bfloat16/float16 autocast scope around ``call`` under a mixed policy.
        kwargs.setdefault("autocast", False)
        kwargs.setdefault("dtype", "float32")
        super().__init__(layer, **kwargs)
        if not isinstance(layer, WRAPPABLE):
            raise TypeError(
                f"{type(self).__name__} wraps Dense, Conv2D, Conv2DTranspose or Embedding, got {type(layer).__name__}"
            )
        self.ops = resolve_ops(ops)

    def _weight_variable(self):
        if isinstance(self.layer, keras.layers.Embedding):
            return self.layer.embeddings
        return self.layer.kernel

    def kernel(self, training: bool = False) -> tf.Tensor:
        """The float32 weight the op uses (the wrapped layer's shape)."""
        raise NotImplementedError

    def call(self, inputs, training=None, op: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None):
        """The wrapped layer with ``self.kernel(training)``; ``op(inputs, kernel)`` (kernel float32,
        inputs in the compute dtype) computes in place of the wrapped layer's own op, before the
        bias and the activation."""
        w = self.kernel(training)
        layer = self.layer
        if isinstance(layer, keras.layers.Embedding):
            return tf.gather(tf.cast(w, layer.compute_dtype), tf.cast(inputs, tf.int32))
        inputs = tf.cast(inputs, layer.compute_dtype)
        if op is not None:
            outputs = op(inputs, w)
        else:
            outputs = _wrapped_op(layer, inputs, tf.cast(w, layer.compute_dtype))
        if layer.use_bias:
            bias = tf.cast(layer.bias.value, layer.compute_dtype)
            outputs = ops.bias_add(outputs, bias, impl=self.ops.impl("bias_add", training))
        if layer.activation is not None:
            outputs = layer.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(ops=str(self.ops))
        return config


@keras.saving.register_keras_serializable(package="sagan_tf")
class PlainKernel(KernelWrapper):
    """The wrapped layer with its own kernel ``W``: no normalization, no state (SAGAN section 5.1,
    the "SN on D" baseline's generator)."""

    def kernel(self, training: bool = False) -> tf.Tensor:
        return tf.convert_to_tensor(self._weight_variable().value, dtype=tf.float32)


def _wrapped_op(layer, inputs: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
    """The wrapped layer's own op (without bias and activation) with the kernel ``w``."""
    if isinstance(layer, keras.layers.Dense):
        return tf.tensordot(inputs, w, axes=[[inputs.shape.rank - 1], [0]])
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return _conv2d_transpose(layer, inputs, w)
    return layer.convolution_op(inputs, w)


def _conv2d_transpose(layer: keras.layers.Conv2DTranspose, inputs: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
    """Transposed convolution with an explicit kernel, channels_last, static spatial shape."""
    if layer.data_format != "channels_last":
        raise ValueError("kernel wrappers support channels_last Conv2DTranspose only")
    _, out_h, out_w, _ = layer.compute_output_shape(inputs.shape)
    batch = tf.shape(inputs)[0]
    output_shape = tf.stack([batch, out_h, out_w, layer.filters])
    return tf.nn.conv2d_transpose(
        inputs, w, output_shape, strides=layer.strides, padding=layer.padding.upper(), dilations=layer.dilation_rate
    )
