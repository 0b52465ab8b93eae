"""The networks of both families (``model.arch``), built from ``sagan_tf.architectures``' tables.

* ``Generator``, ``Discriminator`` (``resnet``): the official SAGAN code's residual networks.
* ``DCGANGenerator``, ``DCGANDiscriminator`` (``dcgan``): the tutorial form of SAGAN.

Both share ``models.base``: attention after chosen blocks, ``call((input, labels), training,
return_attention)``, the projection head of D.
"""

from sagan_tf.models.dcgan import DCGANDiscriminator, DCGANGenerator
from sagan_tf.models.resnet import Discriminator, Generator

FAMILIES = {"resnet": (Generator, Discriminator), "dcgan": (DCGANGenerator, DCGANDiscriminator)}

__all__ = ["FAMILIES", "DCGANDiscriminator", "DCGANGenerator", "Discriminator", "Generator"]
