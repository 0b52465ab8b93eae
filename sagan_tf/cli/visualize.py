"""Pictures of a trained run: sagan-visualize attention --logdir RUN | --pretrained NAME --out attention.png.

``attention`` draws, for generated images (one row per class) and a few query points, the map each
query pays attention to over the image (SAGAN Figures 1 and 5), from the last attention layer of
G (``--network g``, default) or of D scoring the same images (``--network d``). The EMA generator
is used when the run has one (``--raw`` for the trained G). See ``sagan_tf.evaluation.attention``.
"""

from __future__ import annotations

import sys

from sagan_tf.cli import outputs
from sagan_tf.cli.arguments import add_checkpoint, add_run_source, generator_source, parse_classes, parser, positive
from sagan_tf.errors import SaganError, exits_cleanly


def parse_points(text: str | None, size: int, count: int) -> list[tuple[int, int]]:
    """``"8,8;20,24"`` -> [(8, 8), (20, 24)] (x, y pixels); None -> ``count`` spread default points."""
    from sagan_tf.evaluation.attention_maps import default_query_points

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


def attention_command(args) -> int:
    positive("--scale", args.scale)
    positive("--num-points", args.num_points)
    outputs.writable_file(args.out, example="attention.png")
    if args.pretrained and args.network == "d":
        raise SaganError("--network d needs a run's D: a shipped generator (--pretrained) holds G only; use --logdir RUN")

    import numpy as np
    import tensorflow as tf

    from sagan_tf.data.class_names import class_names
    from sagan_tf.evaluation.attention import attention_picture, load_discriminator
    from sagan_tf.images import write_png
    from sagan_tf.runs.choice import choose_checkpoint
    from sagan_tf.runs.run_dir import load_generator

    logdir = generator_source(args).path
    chosen = choose_checkpoint(logdir, args.checkpoint)
    generator, cfg = load_generator(logdir, ema=not args.raw, checkpoint=chosen.path)
    discriminator = load_discriminator(logdir, chosen.path) if args.network == "d" else None
    default = ",".join(str(c) for c in range(min(4, cfg.data.num_classes))) or None
    classes = parse_classes(args.classes or default, cfg.data.num_classes, class_names(cfg.data))
    labels = tf.constant(np.asarray(classes, np.int32))
    z = tf.random.stateless_normal([len(classes), cfg.model.z_dim], seed=[args.seed, 0])
    points = parse_points(args.points, cfg.data.resolution, args.num_points)
    picture, result = attention_picture(
        generator, z, labels, points, args.network, discriminator, args.layer, args.scale
    )
    outputs.write_result(args.out, lambda path: write_png(path, picture), "picture")
    print(
        f"wrote {args.out}: {result.layer} of {generator.name} ({chosen.reason}), {len(classes)} images x "
        f"{len(points)} query points",
        file=sys.stderr,
    )
    return 0


def parse_args(argv=None):
    p = parser("visualize", __doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    a = sub.add_parser(
        "attention", help="attention maps of generated images (paper Fig. 1 and 5)",
        description="Attention maps of generated images (paper Figures 1 and 5).",
    )
    add_run_source(a)
    a.add_argument("--out", required=True, help="PNG file to write")
    a.add_argument("--network", choices=("g", "d"), default="g", help="whose attention: G's, or D's on the samples")
    a.add_argument("--layer", help="attention layer name, e.g. attention_16 (default: the last one)")
    a.add_argument("--classes", help="comma-separated classes, one row each (default: the first 4)")
    a.add_argument("--points", help="query points 'x,y;x,y' in pixels (default: --num-points spread points)")
    a.add_argument("--num-points", type=int, default=4, help="number of default query points (1-5)")
    a.add_argument("--scale", type=int, default=4, help="pixel repetition of the picture")
    a.add_argument("--seed", type=int, default=0, help="seed of the sampled z")
    a.add_argument("--raw", action="store_true", help="the trained G instead of its EMA")
    add_checkpoint(a)
    return p.parse_args(argv)


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return attention_command(args)


if __name__ == "__main__":
    sys.exit(main())
