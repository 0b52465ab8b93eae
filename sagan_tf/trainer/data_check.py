"""The training data checked before a session and explained when it fails during one.

A folder of images is surveyed before training (``data.folder_survey``): the survey's lines, then
how many images training gets after ``data.limit`` and ``log.heldout`` (per class, as
``data.subset`` cuts them) and the largest batch that fits. A config that does not fit the images
(an empty class, too few images left for one batch, colour into one channel, ...) stops with one
line saying what to change, raised as ``DataFitError``, which carries the survey's lines so that
the user reads them first. Under ``multiworker`` only the chief decodes the folder when its survey
is not cached; the other workers wait for the chief's survey file (``wait_for_survey``).

An error the input pipeline raises while training (a label out of range, an image that does not
decode) becomes one ``DataError`` line.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

from sagan_tf.config import Config
from sagan_tf.errors import DataError

SURVEY_WAIT = float(os.environ.get("SAGAN_TF_SURVEY_WAIT", 6 * 3600))  # seconds a worker waits for the chief's survey


class DataFitError(DataError):
    """A config that does not fit the data (one line), with the lines of the survey (``report``) to
    show before it."""

    def __init__(self, message: str, report: list[str]):
        super().__init__(message)
        self.report = report


@dataclass
class DataCheck:
    """What the check found: the folder's survey (None for TFDS), its report lines and warnings."""

    survey: object | None = None
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def training_line(counts: list[int], cfg: Config) -> str:
    """How many images training gets after ``data.limit`` and ``log.heldout``, and the largest
    ``train.batch_size`` that fits."""
    from sagan_tf.data import subset

    total = sum(counts)
    held = subset.heldout_count(cfg.log.heldout, total)
    train = sum(subset.training_counts(counts, held, cfg.data.limit))
    cuts = [f"log.heldout {subset.heldout_text(cfg.log.heldout, held)} held out"] * bool(held)
    cuts += [f"data.limit {cfg.data.limit}"] * bool(cfg.data.limit)
    how = f" ({', '.join(cuts)})" if cuts else ""
    return (f"training images: {train} of {total}{how}; the largest train.batch_size that fits: "
            f"{train // cfg.train.d_steps}")


def wait_for_survey(cfg: Config) -> None:
    """A worker that is not the chief: until the folder's survey file covers every file as it is now
    (the chief writes it), so that this worker decodes nothing."""
    from sagan_tf.data import folder_probe
    from sagan_tf.data.folder_walk import walk
    from sagan_tf.data.image_folder import folder_classes, folder_root
    from sagan_tf.data.survey_cache import cache_path

    root = folder_root(cfg.data)
    folder_classes(root)
    entries = walk(root).entries()
    deadline, said = time.monotonic() + SURVEY_WAIT, False
    while True:
        folder_probe.forget(root)
        if folder_probe.covered(root, entries):
            return
        if not said:
            print(f"waiting for the chief's survey of {root} ({cache_path(root)})", file=sys.stderr, flush=True)
            said = True
        if time.monotonic() > deadline:
            raise DataError(f"no survey of {root} from the chief after {SURVEY_WAIT:.0f} s ({cache_path(root)}); "
                            "is the folder the same on every worker, and the cache directory shared "
                            "($SAGAN_TF_CACHE)?")
        time.sleep(1.0)


def check_data(cfg: Config, chief: bool = True) -> DataCheck:
    """The survey of a folder of images (``data.folder_survey``) with its lines and warnings,
    raising ``DataFitError`` where the config does not fit the images; an empty ``DataCheck`` for
    TFDS data. ``chief``: False on the other workers of a multi-worker run (``wait_for_survey``)."""
    if cfg.data.source != "folder":
        return DataCheck()
    from sagan_tf.data import subset
    from sagan_tf.data.folder_survey import check_fit, survey

    if not chief:
        wait_for_survey(cfg)
    found = survey(cfg.data)
    lines = list(found.report()) + [training_line(found.counts, cfg)]
    batch_images = cfg.train.batch_size * cfg.train.d_steps
    try:
        warnings = check_fit(cfg.data, found, batch_images)
        short = subset.shortfall(found.counts, cfg.log.heldout, cfg.data.limit, batch_images, cfg.train.d_steps,
                                 where=str(found.root))
        if short:
            raise DataError(short)
    except DataFitError:
        raise
    except DataError as e:
        raise DataFitError(str(e), lines) from None
    return DataCheck(found, lines, warnings)


def shown_on_failure(check, stream, before: str = ""):
    """``check()``'s result; when it raises ``DataFitError``, ``before`` and the survey's lines are
    written to ``stream`` first, so the error line comes after what it is about."""
    try:
        return check()
    except DataFitError as e:
        print(before + "\n".join(e.report), file=stream, flush=True)
        raise


def describe_data_failure(cfg: Config, error) -> str:
    """One line for an error (a ``tf.errors.OpError``) raised by the input pipeline during training."""
    lines = [line.strip() for line in error.message.strip().splitlines()]
    lines = [line for line in lines if line and not line.startswith(("[[", "Graph execution error", "Detected at node"))]
    message = lines[-1] if lines else type(error).__name__
    if cfg.data.source == "folder" and "label" not in message:
        from sagan_tf.data.image_folder import find_undecodable

        bad = find_undecodable(cfg.data)
        if bad:
            return f"cannot decode image(s) {', '.join(bad)}; remove them or set data.skip_corrupt: true"
    return f"bad training data: {message}"
