"""conv3x3(upsample_nearest(x)) as one transposed convolution and avgpool(conv3x3(x)) as one stride-2
convolution: against numpy and against the textbook order, values and gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.layers import DiscriminatorBlock, GeneratorBlock, SpectralNormalization
from sagan_tf.layers.folded_conv import conv3x3_avgpool, fold_avgpool, fold_nearest_upsample, upsample_conv3x3
from sagan_tf.layers.optimizations import textbook_resampling
from sagan_tf.layers.resample import downsample_avg, upsample_nearest


def _np_conv3x3_same(x, k):
    """A 'same' 3x3 cross-correlation with zero padding, in float64."""
    h, w = x.shape[1:3]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros(x.shape[:3] + (k.shape[3],))
    for a in range(3):
        for b in range(3):
            out += np.einsum("bhwc,co->bhwo", padded[:, a : a + h, b : b + w], k[a, b])
    return out


def _np_upsample_then_conv(x, k, bias):
    """np.repeat upsampling, then a 'same' 3x3 cross-correlation, in float64."""
    return _np_conv3x3_same(np.repeat(np.repeat(x, 2, axis=1), 2, axis=2), k) + bias


def _np_conv_then_avgpool(x, k):
    c = _np_conv3x3_same(x, k)
    b, h, w, o = c.shape
    return c.reshape(b, h // 2, 2, w // 2, 2, o).mean(axis=(2, 4))


def test_transposed_convolution_equals_numpy_upsample_then_conv():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 4))  # odd, non-square: borders on every side
    k = rng.normal(size=(3, 3, 4, 6))
    out = upsample_conv3x3(tf.constant(x, tf.float32), fold_nearest_upsample(tf.constant(k, tf.float32)))
    np.testing.assert_allclose(out.numpy() + 0.5, _np_upsample_then_conv(x, k, 0.5), rtol=1e-5, atol=1e-5)


def test_stride_two_convolution_equals_numpy_conv_then_average_pool():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 6, 10, 4))  # even, non-square
    k = rng.normal(size=(3, 3, 4, 6))
    out = conv3x3_avgpool(tf.constant(x, tf.float32), fold_avgpool(tf.constant(k, tf.float32)))
    assert out.shape == (2, 3, 5, 6)
    np.testing.assert_allclose(out.numpy(), _np_conv_then_avgpool(x, k), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="even sizes"):
        conv3x3_avgpool(tf.zeros([1, 5, 4, 4]), fold_avgpool(tf.constant(k, tf.float32)))


def _sn_pair(filters=6, seed=0):
    keras.utils.set_random_seed(seed)
    make = lambda name: SpectralNormalization(keras.layers.Conv2D(filters, 3, padding="same", name=name))  # noqa: E731
    a, b = make("a"), make("b")
    a.build((None, 8, 8, 4))
    b.build((None, 8, 8, 4))
    for va, vb in zip(a.weights, b.weights, strict=True):
        vb.assign(va)
    a.layer.bias.assign(np.linspace(-1, 1, filters).astype(np.float32))
    b.layer.bias.assign(np.linspace(-1, 1, filters).astype(np.float32))
    return a, b


def _assert_sn_layers_agree(x, folded_call, textbook_call, shape):
    """Two SN layers with the same weights: outputs, gradients (input, kernel, bias) and the
    advanced u of the folded and the textbook computation agree."""
    folded, textbook = _sn_pair()
    results = []
    for layer, call in ((folded, folded_call), (textbook, textbook_call)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = call(layer, x)
            loss = tf.reduce_sum(tf.sin(y))
        results.append([y] + tape.gradient(loss, [x, layer.layer.kernel, layer.layer.bias]) + [layer.u])
    assert results[0][0].shape == shape
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)


def test_spectral_norm_upsample_matches_upsampling_first_with_gradients():
    x = tf.constant(np.random.default_rng(1).normal(size=(3, 4, 4, 4)), tf.float32)
    _assert_sn_layers_agree(
        x, lambda layer, t: layer(t, training=True, upsample=True),
        lambda layer, t: layer(upsample_nearest(t), training=True), (3, 8, 8, 6),
    )


def test_spectral_norm_avgpool_matches_pooling_after_with_gradients():
    x = tf.constant(np.random.default_rng(6).normal(size=(3, 8, 8, 4)), tf.float32)
    _assert_sn_layers_agree(
        x, lambda layer, t: layer(t, training=True, avgpool=True),
        lambda layer, t: downsample_avg(layer(t, training=True)), (3, 4, 4, 6),
    )


@pytest.mark.parametrize("optimized, downsample, channels", [(True, True, 3), (False, True, 6), (False, True, 8)])
def test_discriminator_block_folded_equals_textbook_order(optimized, downsample, channels):
    keras.utils.set_random_seed(7)
    block = DiscriminatorBlock(8, downsample=downsample, optimized=optimized)
    block.build((4, 8, 8, channels))
    for v in block.trainable_weights:  # nonzero biases: they must commute with the pooling too
        if v.path.endswith("bias"):
            v.assign(np.linspace(-0.5, 0.5, v.shape[0]).astype(np.float32))
    x = tf.constant(np.random.default_rng(8).normal(size=(4, 8, 8, channels)), tf.float32)
    outputs = []
    for context in (None, textbook_resampling):
        with tf.GradientTape() as tape:
            tape.watch(x)
            if context is None:
                y = block(x, training=False)
            else:
                with context():
                    y = block(x, training=False)
            loss = tf.reduce_sum(y * y)
        grads = tape.gradient(loss, [x] + block.trainable_weights)
        outputs.append([y] + [tf.convert_to_tensor(g) for g in grads])
    assert outputs[0][0].shape == (4, 4, 4, 8)
    for got, want in zip(*outputs, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_generator_block_folded_equals_textbook_order():
    keras.utils.set_random_seed(2)
    block = GeneratorBlock(8, num_classes=3)
    block.build((4, 4, 4, 6))
    x = tf.constant(np.random.default_rng(3).normal(size=(4, 4, 4, 6)), tf.float32)
    labels = tf.constant([0, 1, 2, 1])
    outputs = []
    for context in (None, textbook_resampling):
        with tf.GradientTape() as tape:
            tape.watch(x)
            if context is None:
                y = block(x, labels, training=False)
            else:
                with context():
                    y = block(x, labels, training=False)
            loss = tf.reduce_sum(y * y)
        grads = tape.gradient(loss, [x] + block.trainable_weights)
        outputs.append([y] + [tf.convert_to_tensor(g) for g in grads])
    for got, want in zip(*outputs, strict=True):  # float32 sums in another order through two convolutions
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-4)


def test_mixed_bfloat16_and_invalid_layers():
    keras.utils.set_random_seed(4)
    conv = SpectralNormalization(keras.layers.Conv2D(4, 3, padding="same", dtype="mixed_bfloat16"))
    conv.build((None, 4, 4, 3))
    x = tf.random.normal([2, 4, 4, 3])
    y = conv(x, upsample=True)
    assert y.dtype == tf.bfloat16
    reference = conv(upsample_nearest(x))
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), tf.cast(reference, tf.float32).numpy(), atol=0.05)
    one_by_one = SpectralNormalization(keras.layers.Conv2D(4, 1))
    one_by_one.build((None, 4, 4, 3))
    with pytest.raises(ValueError, match="3x3"):
        one_by_one(x, upsample=True)
