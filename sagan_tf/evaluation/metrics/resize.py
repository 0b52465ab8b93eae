"""How images reach an Inception network at 299x299: the TF resize or clean-fid's.

Generator output and real images are in [-1, 1]; Inception takes pixel values in [0, 255]. Two
modes (``--resize``):

* ``tf``: pixels ``(x + 1) * 127.5`` (no rounding), bilinear resize without antialiasing
  (``tf.compat.v1.image.resize_bilinear``, ``align_corners=False``): what TF-GAN's
  ``preprocess_image`` and the ``ResizeBilinear`` inside the 2015 graph do, so what TTUR
  (Heusel et al. 2017) and TF-GAN measure.
* ``clean``: clean-fid's resize (Parmar et al. 2022, "On Aliased Resizing and Surprising
  Subtleties in GAN Evaluation"; ``GaParmar/clean-fid``, ``cleanfid/resize.py``, mode "clean"):
  the image is first made 8-bit as clean-fid's evaluation scripts make a generator's output,
  ``uint8(clip(x * 127.5 + 128, 0, 255))`` (truncation, which for x = u / 127.5 - 1 gives back the
  byte u), then each channel is resized alone as a 32-bit float image (PIL mode ``F``) with PIL's
  bicubic filter to 299x299 and clipped to [0, 255]. PIL's filters widen with the scale factor
  when they shrink an image (antialiasing); for the upscaling from 32 or 64 px they interpolate.

Grayscale images are repeated to three channels (clean-fid reads images with ``convert("RGB")``,
which does the same); for ``clean`` one channel is resized and repeated, which gives the same
numbers as resizing three equal channels.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from PIL import Image

INCEPTION_SIZE = 299
TF = "tf"
CLEAN = "clean"
RESIZE_MODES = (TF, CLEAN)
CLEAN_DESCRIPTION = (
    "clean-fid: uint8(clip(x * 127.5 + 128, 0, 255)), each channel resized as float32 (PIL mode F) "
    "with PIL bicubic to 299x299, clipped to [0, 255]"
)


def check_mode(mode: str) -> str:
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize mode must be one of {', '.join(RESIZE_MODES)}, got {mode!r}")
    return mode


def to_pixels(images) -> tf.Tensor:
    """[-1, 1] (B, H, W, 1|3) -> float32 pixel values (x + 1) * 127.5 in [0, 255], (B, H, W, 3)."""
    images = tf.cast(images, tf.float32)
    if images.shape[-1] == 1:
        images = tf.repeat(images, 3, axis=-1)
    return (images + 1.0) * 127.5


def cleanfid_uint8(images) -> np.ndarray:
    """[-1, 1] -> uint8 as clean-fid makes a generator's output: truncate clip(x * 127.5 + 128, 0, 255)."""
    x = np.asarray(images, np.float32) * np.float32(127.5) + np.float32(128.0)
    return np.clip(x, 0, 255).astype(np.uint8)


def _resize_channel(channel: np.ndarray, size: int) -> np.ndarray:
    image = Image.fromarray(channel.astype(np.float32), mode="F")
    return np.asarray(image.resize((size, size), resample=Image.BICUBIC)).clip(0, 255)


def clean_resize(images, size: int = INCEPTION_SIZE) -> np.ndarray:
    """[-1, 1] (B, H, W, 1|3) -> float32 (B, size, size, 3) in [0, 255], clean-fid's mode "clean"."""
    pixels = cleanfid_uint8(images)
    out = np.empty((pixels.shape[0], size, size, pixels.shape[-1]), np.float32)
    for i, image in enumerate(pixels):
        for c in range(image.shape[-1]):
            out[i, :, :, c] = _resize_channel(image[:, :, c], size)
    return np.repeat(out, 3, axis=-1) if out.shape[-1] == 1 else out
