"""Write a grid of samples of a trained run: sagan-sample --logdir RUN --out grid.png.

One row per requested class (default: all; eight rows for an unconditional run), ``--n`` samples
per row, from the run's latest checkpoint: its EMA generator when it has one. ``--pretrained NAME``
samples a generator that ships with the package instead (no dataset, no network, no training).
"""

from __future__ import annotations

import sys

from sagan_tf.cli.arguments import add_run_source, parse_classes, parser, positive, run_directory
from sagan_tf.errors import exits_cleanly


def parse_args(argv=None):
    p = parser("sample", __doc__)
    add_run_source(p)
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--classes", help="comma-separated class ids or names, one row each (default: all classes)")
    p.add_argument("--n", type=int, default=8, help="samples per row")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled z")
    p.add_argument("--raw", action="store_true", help="the trained G instead of its EMA")
    return p.parse_args(argv)


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    positive("--n", args.n)
    run_directory(args)

    import numpy as np
    import tensorflow as tf

    from sagan_tf.data.class_names import class_names
    from sagan_tf.images import write_png
    from sagan_tf.runs.run_dir import load_generator
    from sagan_tf.training.samples import sample_grid

    generator, cfg = load_generator(args.logdir, ema=not args.raw)
    names = class_names(cfg.data)
    classes = parse_classes(args.classes, cfg.data.num_classes, names)
    rows = classes if cfg.data.num_classes > 0 else [0] * 8
    labels = tf.constant(np.repeat(rows, args.n).astype(np.int32))
    z = tf.random.stateless_normal([len(labels), cfg.model.z_dim], seed=[args.seed, 0])
    write_png(args.out, sample_grid(generator, z, labels, args.n))
    which = ", ".join(names[c] for c in rows) if names and cfg.data.num_classes > 0 else None
    print(f"wrote {args.out}: {len(rows)} rows x {args.n} from {generator.name}" + (f" ({which})" if which else ""),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
