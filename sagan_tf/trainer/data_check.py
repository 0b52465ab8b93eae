"""The training data checked before a session and explained when it fails during one.

A folder of images is surveyed before training (``data.folder_survey``): a config that does not fit
the images stops with one line, and the files skipped are named. An error the input pipeline raises
while training (a label out of range, an image that does not decode) becomes one ``DataError`` line.
"""

from __future__ import annotations

from sagan_tf.config import Config


def check_data(cfg: Config):
    """``(survey, warnings)`` of a folder of images (``data.folder_survey``), raising where the config
    does not fit the images; ``(None, [])`` for TFDS data."""
    if cfg.data.source != "folder":
        return None, []
    from sagan_tf.data.folder_survey import check_fit, survey

    found = survey(cfg.data)
    return found, check_fit(cfg.data, found, cfg.train.batch_size * cfg.train.d_steps)


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
