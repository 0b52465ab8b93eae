"""sagan_tf: Self-Attention GAN (Zhang et al. 2018, arXiv:1805.08318) in TensorFlow 2 / Keras 3.

The package is layered along the data flow; a module imports only from floors below its own (or
from its own subpackage), which ``tests/test_layout.py`` checks:

0. ``errors``, ``config``, ``architectures``, ``files``, ``images``, ``cli``: plain Python (no TensorFlow)
1. ``layers``: spectral norm, self-attention, conditional batch norm, blocks
2. ``models``: G and D of both families on one shared base
3. ``training``: the GAN step, loss scaling, EMA, checkpoints, the loop, data, distribution
4. ``evaluation`` (metrics, attention maps, in-training FID) and ``serving`` (SavedModel, TFLite, export)
5. the command-line verbs ``train``, ``sample``, ``evaluate``, ``visualize``, ``export``,
   ``tools.train_feature_model``, and the documented import paths ``gan`` and ``builders``
"""

__version__ = "0.2.0"
