"""Independent computations for the evaluation tests: the metrics in a few lines of numpy/scipy, and
the evaluated images and features made without ``sagan_tf.evaluation``."""

import keras
import numpy as np
import scipy.special
import tensorflow as tf
import tensorflow_datasets as tfds
from scipy.spatial.distance import cdist


def numpy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """FID from two feature sets; tr sqrt(S1 S2) as the sum of sqrt of the (real, >= 0) eigenvalues."""
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eig = np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(eig)))


def numpy_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3: kernel means with the diagonals masked out."""
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    off = lambda k: k[~np.eye(len(k), dtype=bool)].mean()  # noqa: E731
    return float(off(kxx) + off(kyy) - 2 * kxy.mean())


def numpy_is(logits: np.ndarray, splits: int) -> float:
    """Mean over consecutive splits of exp(E KL(p(y|x) || p(y)))."""
    p = scipy.special.softmax(np.asarray(logits, np.float64), axis=1)
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(0)
        scores.append(np.exp(np.mean(np.sum(part * (np.log(part) - np.log(marginal)), axis=1))))
    return float(np.mean(scores))


def cdist_metrics(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int, scale: float) -> dict:
    """Precision, recall, density, coverage from scipy's Euclidean distances, every radius times ``scale``."""
    def radii(x, k):
        d = cdist(x, x)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1] * scale

    d = cdist(real, fake)
    r_pr, f_pr, r_dc = radii(real, k_pr), radii(fake, k_pr), radii(real, k_dc)
    return {
        "precision": (d <= r_pr[:, None]).any(axis=0).mean(),
        "recall": (d <= f_pr[None, :]).any(axis=1).mean(),
        "density": (d <= r_dc[:, None]).sum() / (k_dc * len(fake)),
        "coverage": (d.min(axis=1) <= r_dc).mean(),
    }


def assert_manifold_metrics(values: dict, real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> None:
    """Features agree to float32 rounding only: each count lies between those of radii 1e-4 smaller
    and larger (values logged to TensorBoard are float32: 1e-6 of slack), and that bracket is narrow."""
    lower, upper = cdist_metrics(real, fake, k_pr, k_dc, 1 - 1e-4), cdist_metrics(real, fake, k_pr, k_dc, 1 + 1e-4)
    for name in ("precision", "recall", "density", "coverage"):
        assert lower[name] - 1e-6 <= values[name] <= upper[name] + 1e-6, (name, lower[name], values[name], upper[name])
        assert upper[name] - lower[name] <= 0.02, name


def classifier_features(feature_model: str):
    """Images -> (float64 features of the Keras model's ``features`` layer, its logits)."""
    model = keras.saving.load_model(feature_model)
    both = keras.Model(model.inputs, [model.get_layer("features").output, model.output])

    def features(images):
        f, logits = both(images)
        return f.numpy().astype(np.float64), logits.numpy().astype(np.float64)

    return features


def fashion_mnist_test_images(tfds_dir: str, n: int, split: str = "test") -> np.ndarray:
    """The first ``n`` images of ``split``, padded 28 -> 32 and scaled to [-1, 1] (the config's preparation)."""
    rows = list(tfds.as_numpy(tfds.load("fashion_mnist", split=split, data_dir=tfds_dir).take(n)))
    return np.stack([np.pad(r["image"], ((2, 2), (2, 2), (0, 0))) for r in rows]).astype(np.float32) / 127.5 - 1


def fashion_mnist_test_labels(tfds_dir: str, n: int) -> np.ndarray:
    """The labels of the first ``n`` test images."""
    rows = tfds.as_numpy(tfds.load("fashion_mnist", split="test", data_dir=tfds_dir).take(n))
    return np.array([r["label"] for r in rows], np.int64)


def generated_images(generate, z_dim: int, n: int, batch: int, seed: int = 0, num_classes: int = 10) -> np.ndarray:
    """``n`` images as documented: balanced labels, z from the stateless RNG seeded (seed, first
    index of the batch); ``generate(z, labels)`` gives a batch in [-1, 1]."""
    labels = (np.arange(n) % num_classes).astype(np.int32)
    parts = []
    for start in range(0, n, batch):
        y = labels[start:start + batch]
        z = tf.random.stateless_normal([len(y), z_dim], seed=[seed, start])
        parts.append(np.asarray(generate(z, tf.constant(y))))
    return np.concatenate(parts)


def keras_generate(generator):
    return lambda z, y: generator((z, y), training=False).numpy()
