"""Data configs, image folders and batches for the tests of ``sagan_tf.data``."""

import numpy as np
from PIL import Image

from sagan_tf.config import DataConfig

ATOL = 1e-6  # images in [-1, 1]: far below one uint8 step (2/255)


def fmnist_config(**kw) -> DataConfig:
    args = dict(name="fashion_mnist", channels=1, resolution=32, resize="pad", num_classes=10,
                shuffle_buffer=256, cache=False)
    args.update(kw)
    return DataConfig(**args)


def take_batches(ds, n):
    return [(x.numpy(), y.numpy()) for x, y in ds.take(n)]


def scaled(u8) -> np.ndarray:
    return np.asarray(u8, np.float32) / np.float32(127.5) - np.float32(1.0)


def write_pngs(root, spec, size=32, mode="RGB", seed=0):
    """spec: {class_name: n_images}; returns {path: (pixels uint8, class_name)}."""
    rng = np.random.default_rng(seed)
    written = {}
    for class_name, n in spec.items():
        d = root / class_name
        d.mkdir(parents=True)
        for i in range(n):
            shape = (size, size, 3) if mode == "RGB" else (size, size)
            pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
            path = d / f"img{i}.png"
            Image.fromarray(pixels, mode).save(path)
            written[str(path)] = (pixels, class_name)
    return written


def folder_config(path, **kw):
    args = dict(source="folder", path=str(path), channels=3, resolution=32, resize="pad", num_classes=2)
    args.update(kw)
    return DataConfig(**args)


