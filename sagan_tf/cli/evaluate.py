"""Measure a run or an export: sagan-evaluate --logdir RUN | --model EXPORT --num-samples N --metrics is,fid,kid,precision,recall.

Argument parsing and printing around ``sagan_tf.evaluation.evaluate.evaluate``.

Samples ``N`` class-balanced images from a run's generator (its EMA when the run has one;
``--raw`` for the trained G) or from an exported SavedModel (``--model``, through its own
signatures), z untruncated or truncated (``--truncation``), and computes the Inception Score, FID
and intra-FID of SAGAN section 5, KID, precision/recall and density/coverage against the real
images of the run's dataset (their Gaussian statistics are cached and reused) or FID against a
statistics file (``--reference-stats PATH.npz``, mu and sigma). Features come from Keras'
Inception-v3 (``--inception-weights PATH`` without network), from the 2015 Inception graph of
published tables (``--inception-graph [PATH]``), resized as TF or as clean-fid does (``--resize``),
or, for domain metrics, from any Keras model (``--feature-model PATH``, e.g. made by
``sagan-train-feature-model``).
Prints one JSON object on stdout (everything else goes to stderr), with the ``protocol`` its numbers
depend on; ``--out FILE`` also writes it. A run keeps it in ``RUN/evaluations/`` for the model card
of its export; an export keeps it in ``VERSION/evaluations/`` and adds it to its ``MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys

from sagan_tf import files
from sagan_tf.cli import outputs
from sagan_tf.cli.arguments import add_checkpoint, add_run_source, generator_source, parser, truncation
from sagan_tf.errors import exits_cleanly
from sagan_tf.evaluation.evaluate import DOWNLOAD, METRIC_NAMES, RESIZE_MODES, EvaluationOptions, evaluate


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each flag's default once: argparse's "(default: X)" is added unless the help
    already says what the default is ("(default: eval.split, else data.split)", "latest (default)");
    for those flags X would only be None, the value that is resolved later."""

    def _get_help_string(self, action):
        if re.search(r"\(default\b", action.help or ""):
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None):
    p = parser("evaluate", __doc__)
    p.formatter_class = HelpFormatter
    source = add_run_source(p)
    source.add_argument("--model", metavar="EXPORT_DIR",
                        help="an exported SavedModel instead of a run: sagan-export's --out (newest version) or a version directory")
    p.add_argument("--version", type=int, help="with --model: the export version (default: the newest)")
    p.add_argument("--config", help="with --model: config (name or YAML) whose data and eval sections give the real "
                                    "images (default: the config of the run the export came from, when it is here)")
    p.add_argument("--num-samples", type=int, default=50000, help="generated images (paper: 50000)")
    p.add_argument("--truncation", type=float,
                   help="z truncated to [-t, t] (truncation trick), image i from generate_truncated's seed "
                        "SEED * 2**32 + i (default: z ~ N(0, I) untruncated)")
    p.add_argument("--metrics", default="is,fid", help=f"comma-separated subset of {', '.join(METRIC_NAMES)}")
    p.add_argument("--k-pr", type=int, default=3, help="k of the k-NN radii of precision and recall (Kynkaanniemi et al.)")
    p.add_argument("--k-dc", type=int, default=5, help="k of the k-NN radii of density and coverage (Naeem et al.)")
    p.add_argument("--kid-subset-size", type=int, default=1000, help="KID: samples per subset (of each set)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID: subsets its mean and std are taken over")
    p.add_argument("--feature-model", help="Keras model file for domain metrics (default: Inception-v3)")
    p.add_argument("--inception-weights", help="InceptionV3 weights file (default: Keras' ImageNet download)")
    p.add_argument("--inception-graph", nargs="?", const=DOWNLOAD, metavar="PATH",
                   help="the 2015 Inception graph of published IS/FID tables: classify_image_graph_def.pb or "
                        "inception-2015-12-05.tgz; without PATH it is downloaded once into the cache and checked "
                        "against its published SHA-256")
    p.add_argument("--inception-graph-sha256", metavar="HEX", help="refuse the --inception-graph file unless its SHA-256 is this")
    p.add_argument("--resize", choices=RESIZE_MODES, default="tf",
                   help="how images reach Inception's 299x299: tf (bilinear, as TTUR and TF-GAN) or clean "
                        "(clean-fid: uint8, then PIL bicubic per channel)")
    p.add_argument("--data-dir", help="TFDS data directory (default: $TFDS_DATA_DIR)")
    p.add_argument("--split", help="real images' split (default: eval.split, else data.split)")
    p.add_argument("--num-real", type=int, help="real images for the reference statistics (default: eval.num_real; 0: all)")
    p.add_argument("--stats-cache", help="directory of cached reference statistics (default: eval.stats_cache)")
    stats = p.add_mutually_exclusive_group()
    stats.add_argument("--reference-stats", metavar="PATH.npz",
                       help="FID against this file's mu and sigma (TTUR / clean-fid format) instead of the dataset")
    stats.add_argument("--save-reference-stats", metavar="PATH.npz",
                       help="also write the dataset's reference mu and sigma to this file")
    p.add_argument("--batch-size", type=int, help="images per forward pass (default: eval.batch_size)")
    add_checkpoint(p)
    p.add_argument("--raw", action="store_true", help="the trained G instead of its EMA")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled z and of KID's subsets")
    p.add_argument("--nearest", type=int, default=0, metavar="N",
                   help="memorisation check: a picture of N generated images beside their nearest training images "
                        "(feature space and pixels, with distances) and the share of generated images closer to a "
                        "training image than training images are to each other, beside held-out real images' share")
    p.add_argument("--nearest-samples", type=int, default=1000,
                   help="generated (and held-out real) images the memorisation rate is measured on")
    p.add_argument("--nearest-picture", metavar="PATH.png",
                   help="where --nearest's picture goes (default: nearest-STEP.png in the run's or export's evaluations/)")
    p.add_argument("--out", help="also write the JSON result to this file")
    return p.parse_args(argv)


@exits_cleanly
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.truncation = truncation(args.truncation)
    outputs.writable_file(args.out, example="result.json")
    outputs.writable_file(args.save_reference_stats, "--save-reference-stats", example="stats.npz")
    outputs.writable_file(args.nearest_picture, "--nearest-picture", example="nearest.png")
    options = {field.name: getattr(args, field.name) for field in dataclasses.fields(EvaluationOptions)}
    result = evaluate(generator_source(args), **options)  # kept in the run or export, not in --pretrained's files
    if result.get("per_class"):
        from sagan_tf.evaluation.metrics.per_class import format_table

        print("\n".join(format_table(result)), file=sys.stderr)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:  # the result is on stdout already; a failed write keeps it beside --out too
        outputs.write_result(args.out, lambda path: files.write_text(path, text + "\n"), "result (also printed above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
