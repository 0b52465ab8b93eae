"""Write a grid of samples of a trained run: sagan-sample --logdir RUN --out grid.png.

One row per requested class (default: all; eight rows for an unconditional run), ``--n`` samples
per row, from the run's latest checkpoint: its EMA generator when it has one. ``--pretrained NAME``
samples a generator that ships with the package instead (no dataset, no network, no training).
"""

from __future__ import annotations

import sys

from sagan_tf.cli import outputs
from sagan_tf.cli.arguments import (
    add_checkpoint,
    add_run_source,
    generator_source,
    parse_classes,
    parser,
    positive,
    truncation,
)
from sagan_tf.errors import exits_cleanly


def parse_args(argv=None):
    p = parser("sample", __doc__)
    add_run_source(p)
    add_checkpoint(p)
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--classes", help="comma-separated class ids or names, one row each (default: all classes)")
    p.add_argument("--n", type=int, default=8, help="samples per row")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled z")
    p.add_argument("--raw", action="store_true", help="the trained G instead of its EMA")
    p.add_argument("--truncation", type=float,
                   help="z truncated to [-t, t] (truncation trick): sample i is generate_truncated's image of seed "
                        "SEED * 2**32 + i (default: z ~ N(0, I) untruncated)")
    return p.parse_args(argv)


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    positive("--n", args.n)
    truncated = truncation(args.truncation)
    outputs.writable_file(args.out, example="grid.png")
    source = generator_source(args)

    import tensorflow as tf

    from sagan_tf.images import make_grid, write_png
    from sagan_tf.serving.generators import load_generator

    generator = load_generator(source, raw=args.raw, checkpoint=args.checkpoint)
    names, num_classes = generator.class_names, generator.num_classes
    classes = parse_classes(args.classes, num_classes, names)
    rows = classes if num_classes > 0 else [0] * 8
    labels = [row for row in rows for _ in range(args.n)]
    if truncated is None:
        z = tf.random.stateless_normal([len(labels), generator.z_dim], seed=[args.seed, 0]).numpy()
        images = generator.generate(z=z, labels=labels)
    else:
        images = generator.generate(seeds=[args.seed * 2**32 + i for i in range(len(labels))], labels=labels,
                                    truncation=truncated)
    grid = make_grid(images, args.n)
    outputs.write_result(args.out, lambda path: write_png(path, grid), "grid")
    which = ", ".join(names[c] for c in rows) if names and num_classes > 0 else None
    print(f"wrote {args.out}: {len(rows)} rows x {args.n} from {generator.info.source}" + (f" ({which})" if which else ""),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
