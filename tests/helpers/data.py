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


def colour(rng, w, h):
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def write_mixed_folder(root, seed=0):
    """Three classes of colour images of mixed sizes and formats, and one text file named .jpg.
    Returns {file name: (width, height, Pillow mode)}."""
    rng = np.random.default_rng(seed)
    made = {}

    def save(path, image, **kw):
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, **kw)
        made[path.name] = (*image.size, image.mode)

    save(root / "daisy" / "a.jpg", Image.fromarray(colour(rng, 60, 40)), quality=95)
    save(root / "daisy" / "b.png", Image.fromarray(colour(rng, 48, 48)).convert("RGBA"))
    save(root / "rose" / "c.jpg", Image.fromarray(colour(rng, 40, 64)).convert("CMYK"), quality=95)
    save(root / "rose" / "d.png", Image.fromarray(rng.integers(0, 65536, (36, 36), dtype=np.uint16).astype(np.int32), "I").convert("I;16"))
    save(root / "tulip" / "e.gif", Image.fromarray(colour(rng, 50, 30)).convert("P"))
    save(root / "tulip" / "f.png", Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8), "L"))
    (root / "tulip" / "notes.jpg").write_text("not an image")
    return made
