"""The float64 kernel a kernel wrapper must compute with, for the numpy references of the tests.

* ``SpectralNormalization``: ``normalized_weight(False)``, W / sigma from the layer's own power
  iteration (spectral norm itself is checked against an SVD in tests/layers/test_spectral_norm.py).
* ``PlainKernel`` (G without spectral norm, SAGAN section 5.1): the stored variable itself, read
  directly, so a reference built on it checks that nothing normalizes or rescales the kernel.
"""

import numpy as np

from sagan_tf.layers.kernel_wrapper import PlainKernel
from sagan_tf.layers.spectral_norm import SpectralNormalization


def stored_weight(wrapper) -> np.ndarray:
    """The wrapped layer's weight variable (``kernel`` or ``embeddings``) as float64."""
    inner = wrapper.layer
    variable = inner.embeddings if hasattr(inner, "embeddings") else inner.kernel
    return np.asarray(variable.numpy(), np.float64)


def reference_kernel(wrapper) -> np.ndarray:
    if isinstance(wrapper, SpectralNormalization):
        return wrapper.normalized_weight(False).numpy().astype(np.float64)
    if isinstance(wrapper, PlainKernel):
        return stored_weight(wrapper)
    raise TypeError(f"not a kernel wrapper: {type(wrapper).__name__}")
