"""sagan_tf: Self-Attention GAN (Zhang et al. 2018, arXiv:1805.08318) in TensorFlow 2 / Keras 3.

The package is layered along the data flow; a module imports only from floors below its own (or
from its own subpackage), which ``tests/test_layout.py`` checks (``docs/layout.md`` lists every module):

0. ``errors``, ``config``, ``architectures``, ``files``, ``images``, ``locks``, ``cluster``: plain Python
1. ``layers`` (spectral norm, self-attention, conditional batch norm, blocks), ``data`` (TFDS, image
   folders, the input pipeline), ``augment`` (DiffAugment)
2. ``models``: G and D of both families on one shared base
3. ``training``: the GAN step, loss scaling, EMA, ADA, LeCam, checkpoints, the loop, distribution
4. ``evaluation`` (metrics, attention maps, in-training FID) and ``serving`` (SavedModel, TFLite, export)
5. ``explore`` (the web app) and ``pretrained`` (the shipped generators)
6. ``cli``: the command-line verbs
7. ``train``: ``python -m sagan_tf.train``, the launcher of ``cli.train``
"""

__version__ = "0.2.0"
