"""clean-fid's resize (Parmar et al. 2022) against PIL called here directly, and Keras' Inception-v3
fed that way."""

import keras
import numpy as np
import pytest
from PIL import Image

from sagan_tf.evaluation.metrics.inception import InceptionExtractor
from sagan_tf.evaluation.metrics.resize import CLEAN_DESCRIPTION, clean_resize, cleanfid_uint8


def pil_clean(images: np.ndarray) -> np.ndarray:
    """clean-fid's steps written out: (x * 127.5 + 128).clamp(0, 255).to(uint8), then per channel a
    float32 'F' image resized with PIL's bicubic filter to 299x299 and clipped; grey repeated."""
    out = []
    for image in images:
        u8 = np.clip(image.astype(np.float32) * 127.5 + 128.0, 0, 255).astype(np.uint8)
        if u8.shape[-1] == 1:
            u8 = np.repeat(u8, 3, axis=-1)
        channels = [np.asarray(Image.fromarray(u8[:, :, c].astype(np.float32), mode="F")
                               .resize((299, 299), resample=Image.BICUBIC)).clip(0, 255) for c in range(3)]
        out.append(np.stack(channels, axis=-1))
    return np.stack(out).astype(np.float32)


def test_uint8_conversion_gives_back_the_bytes_and_truncates():
    u = np.arange(256, dtype=np.float32)
    x = (u / np.float32(127.5) - np.float32(1.0)).reshape(1, 16, 16, 1)
    np.testing.assert_array_equal(cleanfid_uint8(x).reshape(-1), np.arange(256))
    # 0.304 * 127.5 + 128 = 166.76 and -0.3 * 127.5 + 128 = 89.75: truncated, not rounded; out of range: clipped
    assert cleanfid_uint8(np.array([0.304, -0.3, 1.5, -1.5], np.float32)).tolist() == [166, 89, 255, 0]


@pytest.mark.parametrize("channels,size", [(1, 32), (3, 64), (3, 17)])
def test_clean_resize_is_pil_bicubic_of_each_channel(channels, size):
    images = np.random.default_rng(size).uniform(-1.1, 1.1, (2, size, size, channels)).astype(np.float32)
    out = clean_resize(images)
    assert out.shape == (2, 299, 299, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, pil_clean(images))
    assert out.min() >= 0 and out.max() <= 255
    flat = clean_resize(np.full((1, 8, 8, 3), 0.5, np.float32))  # a constant image stays constant
    np.testing.assert_allclose(flat, 191.0, atol=1e-3)


def test_keras_inception_with_the_clean_resize():
    keras.utils.set_random_seed(3)
    extractor = InceptionExtractor("random", resize="clean")
    images = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 1)).astype(np.float32)
    features, logits = extractor(images)
    pool = keras.Model(extractor.network.inputs, extractor.network.get_layer("avg_pool").output)
    expected = pool((pil_clean(images) - 128.0) / 128.0).numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    assert logits.shape == (2, 1000)
    assert extractor.identity == "inception_v3-random-clean"
    described = extractor.describe((32, 32))
    assert described["resize"] == CLEAN_DESCRIPTION and described["name"] == "keras-inception-v3-random"
