"""Ship a training run's generator with the package: ``python -m sagan_tf.cli.build_pretrained --logdir
RUN --name NAME [--notes NOTES.md]`` writes ``sagan_tf/pretrained/NAME/`` (``sagan_tf.serving.pretrained``),
which ``--pretrained NAME`` then loads. ``--name NAME --evaluations RESULT.json ... [--notes NOTES.md]``
instead replaces a shipped generator's kept results (of ``sagan-evaluate --pretrained NAME``) and
writes its card again.

A command for maintainers of the package, not installed as a ``sagan-*`` script.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sagan_tf.cli.arguments import parser
from sagan_tf.errors import SaganError, exits_cleanly


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    p = parser("build-pretrained", __doc__)
    p.prog = "python -m sagan_tf.cli.build_pretrained"
    p.add_argument("--logdir", help="the training run to ship")
    p.add_argument("--evaluations", nargs="+", metavar="RESULT.json",
                   help="instead of --logdir: replace the kept evaluations of the shipped NAME with these results of "
                        "sagan-evaluate --pretrained NAME, and write its card again")
    p.add_argument("--name", required=True, help="the name users pass to --pretrained")
    p.add_argument("--notes", help="a markdown file appended to the model card: how its numbers were made")
    p.add_argument("--replace", action="store_true", help="replace a shipped generator of that name")
    p.add_argument("--into", help="write NAME/ under this directory instead of the package's (to look at it first)")
    args = p.parse_args(argv)
    from sagan_tf.cli import outputs
    from sagan_tf.pretrained import ROOT

    outputs.writable_directory(args.into, "--into")
    from sagan_tf.serving.pretrained import build, refresh

    if bool(args.logdir) == bool(args.evaluations):
        raise SaganError("give --logdir RUN (ship a run) or --evaluations RESULT.json ... (refresh a shipped one)")
    try:
        notes = Path(args.notes).read_text() if args.notes else ""
    except OSError as e:
        raise SaganError(f"cannot read --notes {args.notes}: {e.strerror}") from None
    try:
        results = [json.loads(Path(f).read_text()) for f in args.evaluations or []]
    except OSError as e:
        raise SaganError(f"cannot read --evaluations {e.filename}: {e.strerror}") from None
    except ValueError as e:
        raise SaganError(f"--evaluations: not a JSON result ({e})") from None
    root = Path(args.into) if args.into else ROOT
    if args.evaluations:
        target = refresh(args.name, results, notes if args.notes else None, root)
    else:
        target = build(args.logdir, args.name, root, args.replace, notes)
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    print(f"wrote {target} ({size / 2**20:.2f} MiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
