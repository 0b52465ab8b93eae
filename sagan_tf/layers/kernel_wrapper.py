"""A layer computed with a kernel chosen at call time, and its unnormalized form.

``KernelWrapper`` wraps a ``Dense``, ``Conv2D``, ``Conv2DTranspose`` or ``Embedding`` and applies
the wrapped layer's op with the kernel that ``kernel(training)`` returns (float32, cast to the
wrapped layer's compute dtype), plus its bias (in training through ``layers.channel_sums.add_bias``,
whose gradient is a matmul) and activation. Two subclasses:

* ``layers.spectral_norm.SpectralNormalization``: ``W / sigma(W)`` (SAGAN section 4.1).
* ``PlainKernel``: ``W`` itself. SAGAN section 5.1 (Figure 3) trains a baseline with spectral
  normalization in D only, "SN on D" (the SN-GAN with a projection discriminator of Miyato &
  Koyama); G's layers are then ``PlainKernel`` and have no ``sn_u`` variable. It computes exactly
  what the wrapped Keras layer computes, through the same call path as its normalized twin, so
  G's blocks can still fold the nearest-neighbour upsampling into their convolution
  (``upsample=True``, ``layers.folded_conv``) and export traces the same ops.

``layers.spectral_norm.kernel_layer(layer, spectral_norm)`` makes either, named ``sn_NAME`` or
``plain_NAME`` after the wrapped layer (a checkpoint names variables by these paths, so the two never
load into each other).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.layers import optimizations
from sagan_tf.layers.channel_sums import add_bias
from sagan_tf.layers.folded_conv import conv3x3_avgpool, fold_avgpool, fold_nearest_upsample, upsample_conv3x3

WRAPPABLE = (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Embedding)


class KernelWrapper(keras.layers.Wrapper):
    """The wrapped layer's op with ``self.kernel(training)`` in place of its weight; subclasses
    define ``kernel``."""

    def __init__(self, layer, **kwargs):
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

    def _weight_variable(self):
        if isinstance(self.layer, keras.layers.Embedding):
            return self.layer.embeddings
        return self.layer.kernel

    def kernel(self, training: bool = False) -> tf.Tensor:
        """The float32 weight the op uses (the wrapped layer's shape)."""
        raise NotImplementedError

    def call(self, inputs, training=None, upsample: bool = False, avgpool: bool = False):
        """The wrapped layer with ``self.kernel(training)``.

        For a 3x3 'same' stride-1 ``Conv2D`` (``layers.folded_conv``; same values, 2.25x fewer
        multiply-adds): ``upsample=True`` applies it to the 2x nearest-neighbour upsampled
        ``inputs`` as one transposed convolution of ``inputs``; ``avgpool=True`` returns its output
        2x2 average-pooled, as one stride-2 convolution of ``inputs``. The bias commutes with both.
        """
        w = self.kernel(training)
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
            bias = tf.cast(layer.bias.value, layer.compute_dtype)
            outputs = add_bias(outputs, bias) if optimizations.fused_elementwise(training) else outputs + bias
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


@keras.saving.register_keras_serializable(package="sagan_tf")
class PlainKernel(KernelWrapper):
    """The wrapped layer with its own kernel ``W``: no normalization, no state (SAGAN section 5.1,
    the "SN on D" baseline's generator)."""

    def kernel(self, training: bool = False) -> tf.Tensor:
        return tf.convert_to_tensor(self._weight_variable().value, dtype=tf.float32)


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
