"""Attention maps of a trained run's networks: G's on its samples, or D's scoring them.

The TensorFlow side of ``evaluation.attention_maps`` (which turns maps into pictures): runs G (and D)
with ``return_attention=True`` and picks one layer's beta (B, N_query, N_key), the softmax rows of
paper eq. 1. Used by ``sagan-visualize``, the TensorBoard attention images and ``sagan-explore``.
"""

from __future__ import annotations

import tensorflow as tf

from sagan_tf.data.pixels import to_uint8
from sagan_tf.errors import SaganError
from sagan_tf.evaluation.attention_maps import attention_maps, default_query_points, render
from sagan_tf.runs.checkpointing import restore_or_fail, variables_by_path
from sagan_tf.runs.run_dir import latest_checkpoint, load_run_config
from sagan_tf.training.builders import build_discriminator


def pick_layer(maps: dict, layer: str | None, network: str):
    """``(name, beta)`` of ``layer``, default the network's last attention layer."""
    if not maps:
        raise SaganError(f"the run's {network.upper()} has no self-attention layer (model.{network}_attention, model.attention_block)")
    if layer is None:
        layer = list(maps)[-1]
    if layer not in maps:
        raise SaganError(f"{network.upper()} has no attention layer {layer!r} (has {', '.join(maps)})")
    return layer, maps[layer].numpy()


def generated_attention(generator, z, labels, network: str = "g", discriminator=None, layer: str | None = None):
    """Generated images (uint8) and ``(layer name, beta)`` of G's (or D's) attention on them."""
    images, g_maps = generator((z, labels), training=False, return_attention=True)
    if network == "d":
        _, d_maps = discriminator((images, labels), training=False, return_attention=True)
        name, beta = pick_layer(d_maps, layer, "d")
    else:
        name, beta = pick_layer(g_maps, layer, "g")
    return to_uint8(images).numpy(), name, beta


def attention_picture(generator, z, labels, points=None, network="g", discriminator=None, layer=None, scale=4):
    """``(picture uint8 RGB, AttentionMaps)`` for the given inputs (used by the CLI and TensorBoard)."""
    images, name, beta = generated_attention(generator, z, labels, network, discriminator, layer)
    points = points or default_query_points(images.shape[1])
    result = attention_maps(images, beta, points, layer=f"{network}/{name}")
    return render(result, scale=scale), result


def load_discriminator(logdir, checkpoint: str | None = None):
    """The run's D from its latest checkpoint (or ``checkpoint``), for D's attention pictures."""
    cfg = load_run_config(logdir)
    disc = build_discriminator(cfg)
    ckpt = tf.train.Checkpoint(discriminator=variables_by_path(disc))
    restore_or_fail(ckpt, checkpoint or latest_checkpoint(logdir), partial=True)
    return disc
