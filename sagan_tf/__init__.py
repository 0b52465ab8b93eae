"""sagan_tf: Self-Attention GAN (Zhang et al. 2018, arXiv:1805.08318) in TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"
