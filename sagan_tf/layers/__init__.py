"""Keras layers of SAGAN: spectral norm, self-attention, conditional batch norm, residual blocks."""

from sagan_tf.layers.attention import SelfAttention
from sagan_tf.layers.blocks import DiscriminatorBlock, GeneratorBlock
from sagan_tf.layers.cond_bn import ConditionalBatchNormalization
from sagan_tf.layers.spectral_norm import SpectralNormalization

__all__ = [
    "ConditionalBatchNormalization",
    "DiscriminatorBlock",
    "GeneratorBlock",
    "SelfAttention",
    "SpectralNormalization",
]
