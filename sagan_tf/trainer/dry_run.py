"""What a training session would do, as the report ``sagan-train --dry-run`` prints: the resolved
config, the data found (a folder's images per class, sizes, the files skipped and why), the subset
and small-data settings, the networks' parameter counts and the replicas with their batch.

Nothing is written: the networks are built in memory only, to be counted.
"""

from __future__ import annotations

from pathlib import Path

from sagan_tf import config as config_lib
from sagan_tf.config import Config
from sagan_tf.trainer.data_check import check_data


def data_report(cfg: Config) -> list[str]:
    """The lines about the data: the survey of a folder (with the images training gets, the largest
    batch that fits and its warnings), or the TFDS dataset. A folder that does not fit the config
    raises ``DataFitError`` (its ``report`` holds the survey's lines)."""
    check = check_data(cfg)
    if check.survey is not None:
        lines = check.lines + [f"warning: {line}" for line in check.warnings]
    else:
        lines = [f"data: TFDS {cfg.data.name}, split {cfg.data.split!r}, {cfg.data.num_classes} classes "
                 "(read when training starts)"]
    if cfg.data.limit or cfg.log.heldout:
        held = f"{cfg.log.heldout:g} of the images" if 0 < cfg.log.heldout < 1 else f"{cfg.log.heldout} images"
        lines.append(f"subset: {held} held out (log.heldout), then training on "
                     f"{cfg.data.limit or 'all the other'} images (data.limit), balanced over the classes")
    if cfg.augment.policy or cfg.train.lecam_weight:
        adaptive = f"adaptive (ADA, target {cfg.augment.ada_target})" if cfg.augment.ada_target else "fixed"
        lines.append(f"small data: augmentation {cfg.augment.policy or 'off'}, probability {cfg.augment.probability} "
                     f"{adaptive}; LeCam weight {cfg.train.lecam_weight}")
    if cfg.train.mode_seeking:
        relative = ", relative to each class's real spread" if cfg.train.mode_seeking_per_class else ""
        lines.append(f"mode seeking: weight {cfg.train.mode_seeking:g} in G's loss over pairs of codes of one class"
                     f"{relative} (train.mode_seeking)")
    return lines


def model_report(cfg: Config, strategy, strategy_name: str, logdir: Path | None) -> list[str]:
    """The lines about the networks (built under ``strategy`` in the precision the session would
    pick) and the replicas."""
    import numpy as np

    from sagan_tf.trainer.ops_setting import resolve_ops
    from sagan_tf.trainer.options import check_batch
    from sagan_tf.trainer.precision import resolve_precision
    from sagan_tf.training.builders import build_discriminator, build_generator

    check_batch(cfg, strategy)
    resolve_precision(cfg, strategy, logdir)
    resolve_ops(cfg, strategy)
    with strategy.scope():
        g, d = build_generator(cfg), build_discriminator(cfg)
    counts = [int(sum(np.prod(v.shape) for v in net.trainable_weights)) for net in (g, d)]
    replicas, batch = strategy.num_replicas_in_sync, cfg.train.batch_size
    return [
        f"model: {cfg.model.arch}, G {counts[0]:,} and D {counts[1]:,} trainable parameters, precision {cfg.train.precision}, "
        f"ops {cfg.model.ops}",
        f"replicas: {replicas} ({strategy_name}), global batch {batch} = {batch // replicas} per replica, "
        f"{cfg.train.d_steps} D update(s) per step, {cfg.train.steps} steps",
        "dry run: nothing written",
    ]


def config_report(cfg: Config) -> str:
    """The resolved config as YAML, then the separator of the report's second part."""
    return config_lib.dump(cfg) + "---\n"
