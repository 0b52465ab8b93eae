"""Write a grid of samples of a run: ``python -m sagan_tf.sample --logdir DIR --out grid.png``.

One row per requested class (default: all), ``--n`` samples per row, from the latest checkpoint.
"""

from __future__ import annotations

import argparse
import sys

from sagan_tf.errors import SaganError, exits_cleanly


def parse_classes(text: str | None, num_classes: int) -> list[int]:
    """``"0,3,7"`` -> [0, 3, 7], each checked against ``num_classes``; None -> all classes."""
    if not text:
        return list(range(num_classes)) if num_classes > 0 else [0]
    if num_classes == 0:
        raise SaganError("--classes given, but the run is unconditional (data.num_classes = 0)")
    try:
        classes = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise SaganError(f"--classes must be comma-separated integers, got {text!r}") from None
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad or not classes:
        raise SaganError(f"--classes must be in [0, {num_classes}), got {text!r}")
    return classes


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sagan_tf.sample", description=__doc__.splitlines()[0])
    p.add_argument("--logdir", required=True)
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--classes", help="comma-separated class ids, one row each (default: all)")
    p.add_argument("--n", type=int, default=8, help="samples per row")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.n <= 0:
        raise SaganError("--n must be positive")

    import numpy as np
    import tensorflow as tf

    from sagan_tf.callbacks import sample_grid
    from sagan_tf.images import write_png
    from sagan_tf.run_dir import load_generator

    generator, cfg = load_generator(args.logdir)
    classes = parse_classes(args.classes, cfg.data.num_classes)
    rows = classes if cfg.data.num_classes > 0 else [0] * 8
    labels = tf.constant(np.repeat(rows, args.n).astype(np.int32))
    z = tf.random.stateless_normal([len(labels), cfg.model.z_dim], seed=[args.seed, 0])
    write_png(args.out, sample_grid(generator, z, labels, args.n))
    print(f"wrote {args.out}: {len(rows)} rows x {args.n}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
