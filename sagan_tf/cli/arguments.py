"""What the command-line verbs share: argument parsers, class lists, the entry point.

Plain Python: ``sagan-train --help`` and every other ``--help`` answer without importing TensorFlow.
Results go to stdout and everything else (progress, warnings, ``error: ...``) to stderr.
"""

from __future__ import annotations

import argparse
import re
import sys

from sagan_tf.cli import tf_logs
from sagan_tf.errors import SaganError, positive

__all__ = ["Parser", "add_checkpoint", "add_init_from", "add_run_source", "generator_source", "parse_classes", "parser", "positive",
           "truncation"]


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors look like every other user error: one ``error: ...``
    line on stderr and exit status 2. Every verb (and sub-command) takes ``--tf-logs``; parsing keeps
    TensorFlow's C++ start-up lines off stderr unless it is given (``tf_logs.quiet``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument(tf_logs.FLAG, action="store_true",
                          help="show TensorFlow's C++ log lines (start-up notices; also shown when TF_CPP_MIN_LOG_LEVEL is set)")

    def parse_known_args(self, args=None, namespace=None):
        tf_logs.quiet(list(sys.argv[1:] if args is None else args))
        return super().parse_known_args(args, namespace)

    def error(self, message):
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def parser(prog: str, doc: str) -> Parser:
    """The parser of ``sagan-<prog>``: its description is the module docstring's first paragraph as
    plain text (reST ``literals`` unquoted), its help shows defaults."""
    first = doc.strip().split("\n\n", 1)[0]
    description = re.sub(r"``([^`]+)``", r"\1", " ".join(first.split()))
    return Parser(prog=f"sagan-{prog}", description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)


def add_run_source(p: argparse.ArgumentParser, required: bool = True) -> argparse._MutuallyExclusiveGroup:
    """``--logdir RUN`` or ``--pretrained NAME`` (a generator the package ships), one of them."""
    source = p.add_mutually_exclusive_group(required=required)
    source.add_argument("--logdir", help="training run directory (config.yaml, checkpoints/)")
    source.add_argument("--pretrained", metavar="NAME", help="a generator shipped with the package instead of a run: fashion_mnist32")
    return source


def add_checkpoint(p: argparse.ArgumentParser) -> None:
    """``--checkpoint best|latest|STEP|PATH``: which checkpoint of a run (``runs.choice``)."""
    p.add_argument("--checkpoint", metavar="best|latest|STEP|PATH",
                   help="latest (default), best (the best kept by the run's log.best_metric), a step number, "
                        "or a checkpoint path; for runs")


def add_init_from(p: argparse.ArgumentParser) -> None:
    """``--init-from RUN|pretrained:NAME``: a new run starts from another run's weights (``trainer.init_from``)."""
    p.add_argument("--init-from", metavar="RUN|pretrained:NAME",
                   help="start this new run from another run's G, D and EMA weights (optimizer fresh, step 0); "
                        "a different class count re-initialises the class-dependent weights")


def generator_source(args: argparse.Namespace):
    """The ``serving.sources.GeneratorSource`` that ``--model``, ``--pretrained`` or ``--logdir`` names."""
    from sagan_tf.serving.sources import export_source, pretrained_source, run_source

    if getattr(args, "model", None):
        return export_source(args.model)
    if getattr(args, "pretrained", None):
        return pretrained_source(args.pretrained)
    return run_source(args.logdir)


def truncation(value: float | None) -> float | None:
    """``--truncation``: None (untruncated), or a value the generators take (at least
    ``serving.inputs.MIN_TRUNCATION``, the explorer's bound; inf: none), else one ``SaganError`` line."""
    from sagan_tf.serving.inputs import MIN_TRUNCATION

    if value is not None and not value >= MIN_TRUNCATION:  # also NaN
        raise SaganError(f"--truncation must be >= {MIN_TRUNCATION:g} (inf: no truncation), got {value:g}")
    return value


def parse_classes(text: str | None, num_classes: int, names: list[str] | None = None) -> list[int]:
    """``"0,3,7"`` -> [0, 3, 7], each checked against ``num_classes``; a class may also be given by
    its name (``"daisy,3"``, ``names``: the run's class names); None -> all classes."""
    if not text:
        return list(range(num_classes)) if num_classes > 0 else [0]
    if num_classes == 0:
        raise SaganError("--classes given, but the run is unconditional (data.num_classes = 0)")
    index = {name: i for i, name in enumerate(names or [])}
    classes = []
    for item in (c.strip() for c in text.split(",")):
        if item in index:
            classes.append(index[item])
        elif re.fullmatch(r"-?\d+", item):
            classes.append(int(item))
        elif item:
            known = f" or one of the names {', '.join(names)}" if names else ""
            raise SaganError(f"--classes takes class ids{known}; got {item!r}")
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad or not classes:
        raise SaganError(f"--classes must be in [0, {num_classes}), got {text!r}")
    return classes

