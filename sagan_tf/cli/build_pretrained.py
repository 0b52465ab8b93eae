"""Ship a training run's generator with the package: ``python -m sagan_tf.cli.build_pretrained --logdir
RUN --name NAME [--notes NOTES.md]`` writes ``sagan_tf/pretrained/NAME/`` (``sagan_tf.serving.pretrained``),
which ``--pretrained NAME`` then loads.

A command for maintainers of the package, not installed as a ``sagan-*`` script.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sagan_tf.cli.arguments import parser
from sagan_tf.errors import SaganError, exits_cleanly


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    p = parser("build-pretrained", __doc__)
    p.prog = "python -m sagan_tf.cli.build_pretrained"
    p.add_argument("--logdir", required=True, help="the training run to ship")
    p.add_argument("--name", required=True, help="the name users pass to --pretrained")
    p.add_argument("--notes", help="a markdown file appended to the model card: how its numbers were made")
    p.add_argument("--replace", action="store_true", help="replace a shipped generator of that name")
    p.add_argument("--into", help="write NAME/ under this directory instead of the package's (to look at it first)")
    args = p.parse_args(argv)
    from sagan_tf.cli import outputs
    from sagan_tf.pretrained import ROOT

    outputs.writable_directory(args.into, "--into")
    from sagan_tf.serving.pretrained import build

    try:
        notes = Path(args.notes).read_text() if args.notes else ""
    except OSError as e:
        raise SaganError(f"cannot read --notes {args.notes}: {e.strerror}") from None
    target = build(args.logdir, args.name, Path(args.into) if args.into else ROOT, args.replace, notes)
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    print(f"wrote {target} ({size / 2**20:.2f} MiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
