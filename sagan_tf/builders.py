"""``sagan_tf.builders.build_sagan``: the documented import path of the builders (``training.builders``)."""

from sagan_tf.training.builders import build_discriminator, build_generator, build_optimizers, build_sagan

__all__ = ["build_discriminator", "build_generator", "build_optimizers", "build_sagan"]
