"""Pictures of a run: ``python -m sagan_tf.visualize attention --logdir DIR --out attention.png``.

``attention`` draws, for generated images (one row per class) and a few query points, the map each
query pays attention to over the image (SAGAN Figures 1 and 5), from the last attention layer of
G (``--network g``, default) or of D scoring the same images (``--network d``). The EMA generator
is used when the run has one (``--raw`` for the trained G). See ``sagan_tf.attention_maps``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from sagan_tf.errors import SaganError, exits_cleanly


def parse_points(text: str | None, size: int, count: int) -> list[tuple[int, int]]:
    """``"8,8;20,24"`` -> [(8, 8), (20, 24)] (x, y pixels); None -> ``count`` spread default points."""
    from sagan_tf.attention_maps import default_query_points

    if not text:
        return default_query_points(size, count)
    points = []
    for item in text.split(";"):
        try:
            x, y = (int(v) for v in item.split(","))
        except ValueError:
            raise SaganError(f"--points must look like 'x,y;x,y' (pixels), got {text!r}") from None
        if not (0 <= x < size and 0 <= y < size):
            raise SaganError(f"--points: ({x}, {y}) is outside the {size}x{size} image")
        points.append((x, y))
    return points


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
    from sagan_tf.data import to_uint8

    images, g_maps = generator((z, labels), training=False, return_attention=True)
    if network == "d":
        _, d_maps = discriminator((images, labels), training=False, return_attention=True)
        name, beta = pick_layer(d_maps, layer, "d")
    else:
        name, beta = pick_layer(g_maps, layer, "g")
    return to_uint8(images).numpy(), name, beta


def attention_picture(generator, z, labels, points=None, network="g", discriminator=None, layer=None, scale=4):
    """``(picture uint8 RGB, AttentionMaps)`` for the given inputs (used by the CLI and TensorBoard)."""
    from sagan_tf.attention_maps import attention_maps, default_query_points, render

    images, name, beta = generated_attention(generator, z, labels, network, discriminator, layer)
    points = points or default_query_points(images.shape[1])
    result = attention_maps(images, beta, points, layer=f"{network}/{name}")
    return render(result, scale=scale), result


def load_discriminator(logdir, checkpoint: str | None = None):
    import tensorflow as tf

    from sagan_tf.builders import build_discriminator
    from sagan_tf.checkpointing import restore_or_fail, variables_by_path
    from sagan_tf.run_dir import latest_checkpoint, load_run_config

    cfg = load_run_config(logdir)
    disc = build_discriminator(cfg)
    ckpt = tf.train.Checkpoint(discriminator=variables_by_path(disc))
    restore_or_fail(ckpt, checkpoint or latest_checkpoint(logdir), partial=True)
    return disc


def attention_command(args) -> int:
    import tensorflow as tf

    from sagan_tf.images import write_png
    from sagan_tf.run_dir import load_generator
    from sagan_tf.sample import parse_classes

    if args.scale <= 0 or args.num_points <= 0:
        raise SaganError("--scale and --num-points must be positive")
    generator, cfg = load_generator(args.logdir, ema=not args.raw, checkpoint=args.checkpoint)
    discriminator = load_discriminator(args.logdir, args.checkpoint) if args.network == "d" else None
    default = ",".join(str(c) for c in range(min(4, cfg.data.num_classes))) or None
    classes = parse_classes(args.classes or default, cfg.data.num_classes)
    labels = tf.constant(np.asarray(classes, np.int32))
    z = tf.random.stateless_normal([len(classes), cfg.model.z_dim], seed=[args.seed, 0])
    points = parse_points(args.points, cfg.data.resolution, args.num_points)
    picture, result = attention_picture(
        generator, z, labels, points, args.network, discriminator, args.layer, args.scale
    )
    write_png(args.out, picture)
    print(
        f"wrote {args.out}: {result.layer} of {generator.name}, {len(classes)} images x {len(points)} query points",
        file=sys.stderr,
    )
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m sagan_tf.visualize", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("attention", help="attention maps of generated images (paper Fig. 1 and 5)")
    a.add_argument("--logdir", required=True)
    a.add_argument("--out", required=True, help="PNG file to write")
    a.add_argument("--network", choices=("g", "d"), default="g", help="whose attention: G's, or D's on the samples")
    a.add_argument("--layer", help="attention layer name, e.g. attention_16 (default: the last one)")
    a.add_argument("--classes", help="comma-separated classes, one row each (default: the first 4)")
    a.add_argument("--points", help="query points 'x,y;x,y' in pixels (default: --num-points spread points)")
    a.add_argument("--num-points", type=int, default=4, help="number of default query points (1-5)")
    a.add_argument("--scale", type=int, default=4, help="pixel repetition of the picture")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--raw", action="store_true", help="the trained G instead of its EMA")
    a.add_argument("--checkpoint", help="a checkpoint path (default: the run's latest)")
    return p.parse_args(argv)


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return attention_command(args)


if __name__ == "__main__":
    sys.exit(main())
