"""Export a run's generator for TF Serving and TFLite: sagan-export --logdir RUN --out export/models/sagan.

Writes ``<out>/<version>/``: the SavedModel (signatures ``serving_default``, ``generate``,
``generate_truncated``), TFLite files and ``export.json``, each checked against the Keras generator
before the version directory appears (``sagan_tf.serving.export``).
"""

from __future__ import annotations

import sys

from sagan_tf.cli import outputs
from sagan_tf.cli.arguments import add_checkpoint, add_run_source, generator_source, parser
from sagan_tf.errors import exits_cleanly

FORMATS = ("saved_model", "tflite", "tflite_dynamic_range")


def parse_args(argv=None):
    p = parser("export", __doc__)
    add_run_source(p)
    add_checkpoint(p)
    p.add_argument("--out", required=True, help="model base path, e.g. export/models/sagan")
    p.add_argument("--version", type=int, help="version directory to create (default: the next free integer)")
    p.add_argument("--formats", default="saved_model,tflite", help=f"comma-separated, from {', '.join(FORMATS)}")
    return p.parse_args(argv)


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outputs.writable_directory(args.out)
    source = generator_source(args)
    from sagan_tf.serving.export import export_run, summary

    target, manifest = export_run(source.path, args.out, args.version, args.formats, args.checkpoint)
    print(summary(target, manifest), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
