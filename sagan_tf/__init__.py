"""sagan_tf: Self-Attention GAN (Zhang et al. 2018, arXiv:1805.08318) in TensorFlow 2 / Keras 3.

``import sagan_tf`` is enough (``docs/python_api.md``)::

    cfg = sagan_tf.load_config("fashion_mnist32", ["model.ch=32"])
    model = sagan_tf.Trainer(cfg, "runs/fmnist").train()            # run again to resume
    generator = sagan_tf.load_generator("runs/fmnist")               # or an export, or "pretrained:fashion_mnist32"
    images = generator.generate(seeds=range(8), labels="Sneaker")     # uint8 (8, 32, 32, 1)
    metrics = sagan_tf.evaluate("runs/fmnist", metrics="fid", feature_model="fmnist.keras")
    sagan_tf.export("runs/fmnist", "export/models/sagan")

The names below are imported when first used (``__getattr__``), so that importing the package
imports neither TensorFlow nor Keras: ``load_config`` and ``Config`` (``config``), ``Trainer``
(``trainer``), ``load_generator`` and ``TrainedGenerator`` (``serving.generators``), ``evaluate``
(``evaluation.evaluate``), ``export`` (``serving.export``), ``build_sagan``, ``build_generator``,
``build_discriminator`` (``training.builders``), ``make_dataset`` (``data.pipeline``), ``SAGAN``
(``training.gan``), the networks ``Generator``, ``Discriminator``, ``DCGANGenerator``,
``DCGANDiscriminator`` (``models``) and the layers ``SpectralNormalization``, ``SelfAttention``,
``ConditionalBatchNormalization`` (``layers``).

The package is layered along the data flow; a module imports only from floors below its own (or
from its own subpackage), which ``tests/test_layout.py`` checks (``docs/layout.md`` lists every module):

0. ``errors``, ``config``, ``architectures``, ``files``, ``images``, ``locks``, ``interrupts``, ``cluster``,
   ``pretrained``: plain Python
2. ``layers`` (spectral norm, self-attention, conditional batch norm, blocks), ``data`` (TFDS, image
   folders, the input pipeline), ``augment`` (DiffAugment)
3. ``models``: G and D of both families on one shared base
4. ``training``: the GAN step, loss scaling, EMA, ADA, LeCam, the loop
5. ``runs``: the run directory, checkpoints, ``training.json``
6. ``serving``: SavedModel, TFLite, export, the sources of a trained generator and ``TrainedGenerator``
7. ``evaluation``: metrics, attention maps, in-training FID, ``evaluate``, the domain classifier
8. ``explore`` (the web app) and ``trainer`` (``Trainer``: a training run from Python)
9. ``cli``: the command-line verbs, argument parsing around the floors below
10. ``train``: ``python -m sagan_tf.train``, the launcher of ``cli.train``
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

# name -> (module, attribute): the public API, imported on first use
_EXPORTS = {
    "load_config": ("sagan_tf.config", "load"),
    "Config": ("sagan_tf.config", "Config"),
    "Trainer": ("sagan_tf.trainer", "Trainer"),
    "load_generator": ("sagan_tf.serving.generators", "load_generator"),
    "TrainedGenerator": ("sagan_tf.serving.generators", "TrainedGenerator"),
    "evaluate": ("sagan_tf.evaluation.evaluate", "evaluate"),
    "export": ("sagan_tf.serving.export", "export"),
    "build_sagan": ("sagan_tf.training.builders", "build_sagan"),
    "build_generator": ("sagan_tf.training.builders", "build_generator"),
    "build_discriminator": ("sagan_tf.training.builders", "build_discriminator"),
    "make_dataset": ("sagan_tf.data.pipeline", "make_dataset"),
    "SAGAN": ("sagan_tf.training.gan", "SAGAN"),
    "Generator": ("sagan_tf.models", "Generator"),
    "Discriminator": ("sagan_tf.models", "Discriminator"),
    "DCGANGenerator": ("sagan_tf.models", "DCGANGenerator"),
    "DCGANDiscriminator": ("sagan_tf.models", "DCGANDiscriminator"),
    "SpectralNormalization": ("sagan_tf.layers", "SpectralNormalization"),
    "SelfAttention": ("sagan_tf.layers", "SelfAttention"),
    "ConditionalBatchNormalization": ("sagan_tf.layers", "ConditionalBatchNormalization"),
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    """Imports a public name's module on first use (PEP 562); later uses find it in the package."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sagan_tf' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
