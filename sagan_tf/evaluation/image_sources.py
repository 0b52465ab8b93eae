"""Where evaluated images come from: a run's Keras generator or an export's signatures, with what the
result says about them (the config of the real images, the generator's name, checkpoint and step,
its ``protocol`` description) and where the result is kept.

* A run (or a shipped generator): its generator (the EMA one unless ``raw``) at a checkpoint, z as
  ``samplers`` draws it; truncated z through the export's ``generate_truncated`` function traced
  around it. The result is kept in ``RUN/evaluations/`` (not for a shipped generator: the
  package's own files).
* An export: its own ``serving_default`` (untruncated z) or ``generate_truncated`` signature. The
  real images are those of the run it came from, when that run is here, else of a given config that
  fits the export. The result is kept in ``VERSION/evaluations/`` and in its model card.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from sagan_tf.config import Config
from sagan_tf.errors import SaganError


@dataclasses.dataclass
class ImageSource:
    """What the images come from: the config (data and eval sections), the sampler, the generator's
    name, checkpoint and step, its ``protocol`` description, and where the result is kept (None:
    nowhere, a shipped generator); ``export``: the version directory of an export."""

    cfg: Config
    sampler: object
    name: str
    checkpoint: str | None
    step: int | None
    description: dict
    keep_in: Path | None
    export: Path | None = None


def export_config(version_dir: Path, config: str | Path | Config | None) -> tuple[dict, Config]:
    """(manifest, config) of an export; the config is ``config`` or that of the run the export came
    from, and must fit the exported generator."""
    from sagan_tf import config as config_lib
    from sagan_tf.runs.run_dir import CONFIG_FILE, load_run_config
    from sagan_tf.serving.export import MANIFEST

    try:
        manifest = json.loads((version_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        raise SaganError(f"{version_dir} has no readable {MANIFEST}: not a version written by sagan-export") from None
    logdir = (manifest.get("source") or {}).get("logdir")
    if isinstance(config, Config):
        cfg = config
    elif config:
        cfg = config_lib.load(config)
    elif logdir and (Path(logdir) / CONFIG_FILE).is_file():
        cfg = load_run_config(logdir)
    else:
        raise SaganError(f"--model: the run the export came from ({logdir}) is not here to say which data the real "
                         "images are; pass --config (that run's config.yaml, or a config with the same data section)")
    model, data = manifest.get("model") or {}, cfg.data
    exported = (model.get("resolution"), model.get("channels"), model.get("num_classes"))
    if exported != (data.resolution, data.channels, data.num_classes):
        raise SaganError(f"the config's data ({data.resolution} px, {data.channels} channel(s), {data.num_classes} "
                         f"classes) does not fit the export ({exported[0]} px, {exported[1]} channel(s), {exported[2]} classes)")
    return manifest, cfg


def export_images(version_dir: Path, manifest: dict, cfg: Config, truncation: float | None, seed: int) -> ImageSource:
    """The images of the exported SavedModel's signatures: ``serving_default`` for untruncated z,
    ``generate_truncated`` with a ``truncation``."""
    import tensorflow as tf

    from sagan_tf.evaluation.metrics.protocol import generator_description
    from sagan_tf.evaluation.samplers import LatentSampler, SeedSampler
    from sagan_tf.runs.run_dir import checkpoint_step
    from sagan_tf.serving.signatures import GENERATE_TRUNCATED, SERVING_DEFAULT

    try:
        loaded = tf.saved_model.load(str(version_dir))
    except (OSError, ValueError, tf.errors.OpError) as e:
        raise SaganError(f"cannot load the SavedModel in {version_dir}: {str(e).splitlines()[0][:200]}") from None
    wanted = SERVING_DEFAULT if truncation is None else GENERATE_TRUNCATED
    if wanted not in loaded.signatures:
        raise SaganError(f"{version_dir} has no {wanted} signature (exported by an earlier sagan-export)")
    signature = loaded.signatures[wanted]
    if truncation is None:
        sampler = LatentSampler(lambda z, y: signature(z=z, labels=y)["images_float"], manifest["model"]["z_dim"], seed)
    else:
        sampler = SeedSampler(lambda s, y, t: signature(seed=s, labels=y, truncation=t)["images_float"], truncation, seed)
    sampler.loaded = loaded  # keeps the SavedModel's variables alive with its signature
    source = manifest.get("source") or {}
    name, checkpoint = source.get("generator", "generator"), source.get("checkpoint")
    step = checkpoint_step(checkpoint) if checkpoint else None
    export = {"path": str(version_dir.resolve()), "version": manifest.get("version")}
    description = generator_description(name, source.get("logdir") or version_dir, checkpoint, step,
                                        truncation=truncation, export=export)
    return ImageSource(cfg, sampler, name, checkpoint, step, description, version_dir, version_dir)


def run_images(logdir: Path, pretrained: str | None, checkpoint: str | None, raw: bool, truncation: float | None,
               seed: int) -> ImageSource:
    """The images of the run's Keras generator (z as ``samplers`` draws it; truncated z through the
    export's ``generate_truncated`` function traced around it)."""
    from sagan_tf.evaluation.metrics.protocol import generator_description
    from sagan_tf.evaluation.samplers import SeedSampler, keras_sampler
    from sagan_tf.runs.run_dir import checkpoint_step, load_generator, resolve_checkpoint

    path = resolve_checkpoint(str(logdir), checkpoint)
    generator, cfg = load_generator(logdir, ema=not raw, checkpoint=path)
    if truncation is None:
        sampler = keras_sampler(generator, seed)
    else:
        from sagan_tf.serving.generators import TracedFunctions
        from sagan_tf.serving.signatures import GENERATE_TRUNCATED

        function = TracedFunctions(generator, cfg.data.num_classes, cfg.model.z_dim).get(GENERATE_TRUNCATED)
        sampler = SeedSampler(lambda s, y, t: function(s, y, t)["images_float"], truncation, seed)
    step = checkpoint_step(path)
    description = generator_description(generator.name, logdir, path, step, pretrained, truncation)
    return ImageSource(cfg, sampler, generator.name, path, step, description, None if pretrained else logdir)
