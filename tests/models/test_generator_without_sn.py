"""G without spectral normalization (``model.g_spectral_norm: false``; SAGAN section 5.1's "SN on D"
baseline): no spectral-norm state in G, every layer computing with its stored kernel, D unchanged.

Both families are compared with float64 numpy compositions of their stored weights (``tests.helpers.numpy_layers``:
the kernel variables themselves, not ``W / sigma``): rtol=1e-4 / atol=1e-4 on tanh outputs.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.errors import ConfigError
from sagan_tf.layers.kernel_wrapper import KernelWrapper, PlainKernel
from sagan_tf.layers.spectral_norm import SpectralNormalization
from sagan_tf.models import DCGANGenerator, Generator
from sagan_tf.training.builders import build_discriminator, build_generator, build_sagan
from tests.helpers import numpy_networks
from tests.helpers.numpy_layers import reference_kernel, stored_weight
from tests.helpers.numpy_networks import np_resnet_generator
from tests.helpers.training import randomize_generator

Z_DIM = 16
NUM_CLASSES = 5
TOL = 1e-4
SIGMA = 2.0


def _wrappers(network):
    return [layer for layer in network._flatten_layers() if isinstance(layer, KernelWrapper)]


def _randomize_state(g, rng):
    """Class gains, attention gamma (``test_models``), and moving statistics away from 0 / 1."""
    for v in g.variables:
        if "moving_mean" in v.path:
            v.assign((0.2 * rng.normal(size=tuple(v.shape))).astype(np.float32))
        elif "moving_variance" in v.path:
            v.assign(rng.uniform(0.5, 2.0, size=tuple(v.shape)).astype(np.float32))
    # Random kernels scaled to spectral norm SIGMA: W / sigma(W) would be half of each of them.
    for wrapper in _wrappers(g):
        kernel = wrapper.layer.kernel
        w = rng.normal(size=tuple(kernel.shape))
        kernel.assign((SIGMA * w / _sigma(wrapper, w)).astype(np.float32))


def _sigma(wrapper, w):
    """The largest singular value of the kernel as the map it is (Conv2DTranspose: (kh, kw, out, in))."""
    if isinstance(wrapper.layer, keras.layers.Conv2DTranspose):
        w = np.transpose(w, (0, 1, 3, 2))
    return np.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0]


def _resnet(spectral_norm, seed=0):
    keras.utils.set_random_seed(seed)
    g = Generator(resolution=32, ch=8, z_dim=Z_DIM, num_classes=NUM_CLASSES, attention=(16,), spectral_norm=spectral_norm)
    g.build()
    rng = np.random.default_rng(seed)
    randomize_generator(g, rng)
    _randomize_state(g, rng)
    return g


def _dcgan(spectral_norm, seed=0):
    keras.utils.set_random_seed(seed)
    g = DCGANGenerator(resolution=32, ch=8, z_dim=Z_DIM, num_classes=NUM_CLASSES, channels=1, spectral_norm=spectral_norm)
    g.build()
    rng = np.random.default_rng(seed)
    for att in g.attention_layers:
        att.gamma.assign(0.5)
    _randomize_state(g, rng)
    return g


FAMILIES = {"resnet": (_resnet, np_resnet_generator), "dcgan": (_dcgan, lambda g, z, y: numpy_networks.generator(g, z, y)[0])}


def _inputs(seed=0, batch=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, Z_DIM)).astype(np.float32), np.array([0, 4, 2][:batch], np.int32)


@pytest.mark.parametrize("family", FAMILIES)
def test_generator_without_sn_has_no_spectral_norm_state(family):
    make, _ = FAMILIES[family]
    plain, normalized = make(False), make(True)
    assert not any("sn_u" in v.path or "/sn_" in v.path for v in plain.variables)
    wrappers = _wrappers(plain)
    assert wrappers and all(type(w) is PlainKernel for w in wrappers)
    assert len(wrappers) == len(_wrappers(normalized))
    # Exactly the normalized G's variables minus one u per layer, and the same trainable parameters.
    assert len(plain.variables) == len(normalized.variables) - len(wrappers)
    assert plain.count_params() == normalized.count_params() - sum(int(np.prod(w.u.shape)) for w in _wrappers(normalized))
    count = lambda g: sum(int(np.prod(v.shape)) for v in g.trainable_variables)  # noqa: E731
    assert count(plain) == count(normalized)


@pytest.mark.parametrize("family", FAMILIES)
def test_generator_without_sn_computes_with_its_stored_kernels(family):
    make, reference = FAMILIES[family]
    g = make(False, seed=1)
    z, y = _inputs(seed=1)
    out = g((tf.constant(z), tf.constant(y)), training=False).numpy()
    np.testing.assert_allclose(out, reference(g, z, y), rtol=TOL, atol=TOL)
    # The check can fail: every kernel has spectral norm 2, so W / sigma(W) would be half of it.
    for wrapper in _wrappers(g):
        assert _sigma(wrapper, stored_weight(wrapper)) == pytest.approx(SIGMA, rel=1e-5), wrapper.path


@pytest.mark.parametrize("family", FAMILIES)
def test_generator_without_sn_round_trips_through_its_config(family):
    make, _ = FAMILIES[family]
    g = make(False, seed=2)
    assert g.get_config()["spectral_norm"] is False
    clone = type(g).from_config(g.get_config())
    clone.build()
    assert [v.path.split("/", 1)[1] for v in clone.variables] == [v.path.split("/", 1)[1] for v in g.variables]


@pytest.mark.parametrize("name", ["fashion_mnist32", "dcgan_fashion_mnist32"])
def test_config_switches_sn_off_in_g_only(name):
    cfg = config_lib.load(name, ["model.ch=4", "model.g_spectral_norm=false", "train.precision=float32"])
    g, d = build_generator(cfg), build_discriminator(cfg)
    assert not any("sn_u" in v.path for v in g.variables)
    assert all(type(w) is SpectralNormalization for w in _wrappers(d))
    assert len(_wrappers(d)) == sum("sn_u" in v.path for v in d.variables) > 0
    model = build_sagan(cfg)  # the EMA shadow is built from G's config: also without SN
    assert model.ema is not None and not any("sn_u" in v.path for v in model.ema.generator.variables)


def test_config_key_validates_and_is_part_of_the_model_signature():
    assert config_lib.Config().model.g_spectral_norm is True
    on = config_lib.load("fashion_mnist32")
    off = config_lib.load("fashion_mnist32", ["model.g_spectral_norm=false"])
    assert off.model.g_spectral_norm is False
    assert on.model_signature()["model"]["g_spectral_norm"] is True
    assert off.model_signature() != on.model_signature()
    for bad in ("model.g_spectral_norm=maybe", "model.g_spectral_norm=0"):
        with pytest.raises(ConfigError, match="'model.g_spectral_norm' must be true or false"):
            config_lib.load("fashion_mnist32", [bad])
    with pytest.raises(ConfigError, match="unknown config key 'model.d_spectral_norm'"):
        config_lib.load("fashion_mnist32", ["model.d_spectral_norm=false"])


def test_stored_weight_is_what_a_plain_layer_holds():
    g = _resnet(False, seed=3)
    kernel = g.output_conv.layer.kernel
    np.testing.assert_array_equal(stored_weight(g.output_conv), kernel.numpy())
    np.testing.assert_array_equal(reference_kernel(g.output_conv), kernel.numpy())
