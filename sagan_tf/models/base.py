"""What both network families share: blocks with self-attention after chosen blocks, G's and D's
``build``/``call``, and the projection discriminator's head.

* ``AttentionNetwork``: ``self.blocks`` run in order; an attention layer (``SelfAttention``, or the
  paper's Table 1 residual substitute) follows each block whose output resolution is listed in
  ``attention`` (paper Table 1: "feat8" ... "feat64"). With ``return_attention=True`` the call also
  returns every ``SelfAttention`` layer's map beta (B, N_query, N_key) under the layer's name
  (paper Figures 1 and 5).
* ``GeneratorNetwork``: G(z, y) = tanh(to_image(blocks(stem(z)))) in float32; ``spectral_norm=False``
  builds every layer of G with its plain kernel (SAGAN section 5.1, the "SN on D" baseline).
* ``DiscriminatorNetwork``: D(x, y) = psi(phi(x)) + <e(y), phi(x)> (Miyato & Koyama 2018, eq. 3),
  psi and e spectrally normalized (SAGAN section 4); phi is the family's pooling of the last block.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from sagan_tf.layers.attention import SelfAttention
from sagan_tf.layers.blocks import sn_dense
from sagan_tf.layers.op_setting import resolve_ops
from sagan_tf.layers.spectral_norm import SpectralNormalization
from sagan_tf.ops_choice import OpChoice

_NO_LABELS = object()


def run_blocks(
    blocks, attention: dict, h: tf.Tensor, labels=_NO_LABELS, training=None, return_attention: bool = True
) -> tuple[tf.Tensor, dict]:
    """``h`` through ``blocks``; ``attention[i]`` (a ``SelfAttention`` or another layer) follows block i.

    ``labels`` is passed to every block when given (G's conditional blocks), not at all otherwise.
    Returns the output and ``{attention layer name: beta}`` in forward order; the maps are only
    requested with ``return_attention`` (without it a chunked attention layer never forms the whole
    map) and only from ``SelfAttention`` layers.
    """
    maps = {}
    for i, block in enumerate(blocks):
        h = block(h, training=training) if labels is _NO_LABELS else block(h, labels, training=training)
        layer = attention.get(i)
        if layer is None:
            continue
        if return_attention and isinstance(layer, SelfAttention):
            h, maps[layer.name] = layer(h, training=training, return_attention=True)
        else:
            h = layer(h, training=training)
    return h, maps


def projection_logits(phi: tf.Tensor, labels, linear, embedding: object | None, training=None) -> tf.Tensor:
    """psi(phi) + <embedding(y), phi> as float32 (B,); no class term when ``embedding`` is None."""
    logits = tf.cast(linear(phi, training=training)[:, 0], tf.float32)
    if embedding is not None:
        e = embedding(tf.reshape(labels, [-1]), training=training)
        logits += tf.cast(tf.reduce_sum(tf.cast(e, phi.dtype) * phi, axis=1), tf.float32)
    return logits


class AttentionNetwork(keras.Model):
    """Blocks with attention layers after some of them. Subclasses set ``self.attention`` (the
    resolutions), call ``add_block`` in forward order and list their constructor arguments in
    ``CONFIG_KEYS`` (``get_config``). ``ops``: the forms of ``sagan_tf.ops`` every layer runs
    (``layers.op_setting``; ``model.ops``), passed to each layer the network builds."""

    CONFIG_KEYS: tuple[str, ...] = ()

    def __init__(
        self, *, resolution: int, ch: int, num_classes: int, channels: int, attention_variant: str,
        ops: str | OpChoice = "auto", **kwargs,
    ):
        super().__init__(**kwargs)
        self.ops = resolve_ops(ops)
        self.resolution = int(resolution)
        self.ch = int(ch)
        self.num_classes = int(num_classes)
        self.channels = int(channels)
        self.attention_variant = attention_variant
        self.blocks = []
        self.attention_layers = []
        self._attention_after: list[int] = []  # block index each attention layer follows
        self._attention_placed: list[int] = []  # and that block's resolution

    def add_block(self, block, resolution: int, make_attention) -> None:
        """Appends ``block``; ``make_attention(resolution)`` follows it when ``resolution`` is one of
        ``self.attention`` and has no attention layer yet."""
        self.blocks.append(block)
        if resolution in self.attention and resolution not in self._attention_placed:
            self._attention_after.append(len(self.blocks) - 1)
            self._attention_placed.append(resolution)
            self.attention_layers.append(make_attention(resolution))

    def run(self, h, labels=_NO_LABELS, training=None, return_attention: bool = False):
        attention = dict(zip(self._attention_after, self.attention_layers, strict=True))
        return run_blocks(self.blocks, attention, h, labels, training=training, return_attention=return_attention)

    def with_ops(self, ops: str | OpChoice) -> AttentionNetwork:
        """The same network (class, config and a copy of every variable) running the forms of
        ``sagan_tf.ops`` that ``ops`` names, e.g. ``"reference"`` for TFLite conversion."""
        twin = type(self).from_config({**self.get_config(), "ops": str(resolve_ops(ops))})
        twin.build()
        for mine, theirs in zip(twin.variables, self.variables, strict=True):
            if mine.path.split("/", 1)[-1] != theirs.path.split("/", 1)[-1]:
                raise ValueError(f"{twin.name}: variable {mine.path} does not match {theirs.path}")
            mine.assign(tf.convert_to_tensor(theirs))
        return twin

    def get_config(self):
        return {
            "name": self.name, "attention": list(self.attention), "ops": str(self.ops),
            **{k: getattr(self, k) for k in self.CONFIG_KEYS},
        }


class GeneratorNetwork(AttentionNetwork):
    """G(z, y) -> image in [-1, 1]; ``call((z, labels), training, return_attention)``.

    Subclasses define ``stem(z, training)`` (z to the first blocks' input) and
    ``to_image(h, training)`` (the last features to the image's pre-tanh values).
    """

    def __init__(self, *, z_dim: int, sync_bn: bool, bn_momentum: float, spectral_norm: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.z_dim = int(z_dim)
        self.sync_bn = bool(sync_bn)
        self.bn_momentum = float(bn_momentum)
        self.spectral_norm = bool(spectral_norm)

    def stem(self, z, training=None):
        return z

    def to_image(self, h, training=None):
        raise NotImplementedError

    def build(self, input_shape=None):
        self.call((tf.zeros([1, self.z_dim]), tf.zeros([1], tf.int32)), training=False)
        self.built = True

    def call(self, inputs, training=None, return_attention: bool = False):
        z, labels = inputs
        h, maps = self.run(self.stem(z, training=training), labels, training=training, return_attention=return_attention)
        images = tf.tanh(tf.cast(self.to_image(h, training=training), tf.float32))
        return (images, maps) if return_attention else images


class DiscriminatorNetwork(AttentionNetwork):
    """Projection D(x, y) -> logit (B,); ``call((images, labels), training, return_attention)``.

    Subclasses define ``features(h)`` (phi: the last block's output pooled or flattened) and call
    ``add_projection_head`` with phi's size.
    """

    def features(self, h):
        raise NotImplementedError

    def add_projection_head(self, features: int) -> None:
        self.linear = sn_dense(1, "linear", ops=self.ops)
        self.embedding = None
        if self.num_classes > 0:
            embed = keras.layers.Embedding(self.num_classes, features, name="embedding")
            self.embedding = SpectralNormalization(embed, ops=self.ops, name="sn_embedding")

    def build(self, input_shape=None):
        x = tf.zeros([1, self.resolution, self.resolution, self.channels])
        self.call((x, tf.zeros([1], tf.int32)), training=False)
        self.built = True

    def call(self, inputs, training=None, return_attention: bool = False):
        x, labels = inputs
        h, maps = self.run(x, training=training, return_attention=return_attention)
        logits = projection_logits(self.features(h), labels, self.linear, self.embedding, training=training)
        return (logits, maps) if return_attention else logits
