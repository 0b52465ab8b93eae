"""``sagan_tf.gan.SAGAN``: the documented import path of the GAN model (``training.gan``)."""

from sagan_tf.training.gan import SAGAN, hinge_d_loss, hinge_g_loss

__all__ = ["SAGAN", "hinge_d_loss", "hinge_g_loss"]
