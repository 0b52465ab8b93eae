"""The generator behind ``sagan-explore``: an exported SavedModel, or a training run's Keras G.

Both expose the same three calls, which are the export's signatures (``sagan_tf.serving.signatures``):

* ``generate(seeds, labels, truncation)``: ``generate_truncated``, the images a TF Serving client
  gets for (seed, label), and the z each seed stands for;
* ``explore(z, class_weights)``: the images of a class mixture and every attention layer's map
  beta (B, N_query, N_key), the softmax rows of paper eq. 1;
* ``mix(z, class_weights)``: the same images without the maps (``mix``). An export written before
  ``mix`` existed has none: its images come from ``explore``, whose maps are dropped in the graph
  call's own output and never copied out.

For an export they are the SavedModel's own signatures; for a run (``--logdir``) they are the same
``ServingGraph`` functions traced around the run's generator (the EMA one when the run has one), so
the page shows what an export of the run would serve.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.attention_maps import square_grid
from sagan_tf.serving.export import MANIFEST, existing_versions
from sagan_tf.serving.signatures import EXPLORE, GENERATE_TRUNCATED, MIX, ServingGraph, label_count

IMAGE_OUTPUTS = ("images", "images_float")


@dataclass(frozen=True)
class AttentionLayer:
    """One attention layer of G: its map has query_grid[0] * query_grid[1] rows over the key grid."""

    name: str
    query_grid: tuple[int, int]
    key_grid: tuple[int, int]


@dataclass
class ModelInfo:
    """What the page needs to know about the generator."""

    source: str
    resolution: int
    channels: int
    num_classes: int  # 0: unconditional (every label is 0)
    z_dim: int
    class_names: list[str] | None = None
    attention: list[AttentionLayer] = field(default_factory=list)

    @property
    def label_count(self) -> int:
        return label_count(self.num_classes)

    def class_name(self, label: int) -> str:
        if self.class_names:
            return self.class_names[label]
        return f"class {label}" if self.num_classes > 0 else "unconditional"


def attention_layers(structured_outputs: dict) -> list[AttentionLayer]:
    """The attention maps among an ``explore`` function's outputs, in G's forward order (coarse to fine)."""
    layers = []
    for name, spec in structured_outputs.items():
        if name in IMAGE_OUTPUTS:
            continue
        _, queries, keys = spec.shape
        layers.append(AttentionLayer(name, square_grid(int(queries)), square_grid(int(keys))))
    return sorted(layers, key=lambda layer: (layer.query_grid[0], layer.name))


class Generator:
    """``generate``, ``explore`` and ``mix`` around concrete functions with the export's signatures
    (``mix_fn`` None: ``mix`` takes the images of ``explore_fn``)."""

    def __init__(self, info: ModelInfo, generate_fn, explore_fn, mix_fn=None):
        self.info = info
        self._generate = generate_fn
        self._explore = explore_fn
        self._mix = mix_fn

    def generate(self, seeds, labels, truncation: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 images (B, R, R, C), z (B, z_dim) float32) for each (seed, label)."""
        out = self._generate(
            seed=tf.constant(np.asarray(seeds, np.int64)),
            labels=tf.constant(np.asarray(labels, np.int32)),
            truncation=tf.constant(truncation, tf.float32),
        )
        return out["images"].numpy(), out["z"].numpy()

    def explore(self, z, class_weights) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(uint8 images, {attention layer: beta (B, N_query, N_key)}) for z and class mixtures."""
        out = self._explore(
            z=tf.constant(np.asarray(z, np.float32)), class_weights=tf.constant(np.asarray(class_weights, np.float32))
        )
        maps = {layer.name: out[layer.name].numpy() for layer in self.info.attention}
        return out["images"].numpy(), maps

    def mix(self, z, class_weights) -> np.ndarray:
        """uint8 images (B, R, R, C) for z and class mixtures, without attention maps."""
        inputs = {"z": tf.constant(np.asarray(z, np.float32)),
                  "class_weights": tf.constant(np.asarray(class_weights, np.float32))}
        function = self._explore if self._mix is None else self._mix
        return function(**inputs)["images"].numpy()


def version_directory(model: str | Path, version: int | None = None) -> Path:
    """The export version to load: ``model`` itself when it is one, else ``model/<version>`` (default: newest)."""
    model = Path(model)
    if not model.is_dir():
        raise SaganError(f"--model {model} is not a directory (expected sagan-export's --out, e.g. export/models/sagan)")
    if (model / "saved_model.pb").exists():
        if version is not None and model.name != str(version):
            raise SaganError(f"--model {model} is a version directory; --version {version} names another one")
        return model
    versions = existing_versions(model)
    if not versions:
        raise SaganError(f"--model {model} has no exported version (expected {model}/<version>/saved_model.pb)")
    if version is None:
        return model / str(versions[-1])
    if version not in versions:
        raise SaganError(f"--model {model} has no version {version} (has {', '.join(map(str, versions))})")
    return model / str(version)


def load_export(model: str | Path, version: int | None = None) -> Generator:
    """The generator of a ``sagan-export`` version directory, run through its own signatures."""
    path = version_directory(model, version)
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        raise SaganError(f"{path} has no {MANIFEST}: not a version written by sagan-export")
    manifest = json.loads(manifest_path.read_text())
    loaded = tf.saved_model.load(str(path))
    missing = [name for name in (GENERATE_TRUNCATED, EXPLORE) if name not in loaded.signatures]
    if missing:
        raise SaganError(
            f"{path} has no {' or '.join(missing)} signature (exported by an earlier sagan-export); "
            "export the run again, or start sagan-explore with --logdir RUN"
        )
    explore_fn = loaded.signatures[EXPLORE]
    model_info = manifest["model"]
    source = manifest.get("source", {})
    checkpoint = Path(source["checkpoint"]).name if source.get("checkpoint") else "an unknown checkpoint"
    info = ModelInfo(
        source=f"{path} ({source.get('generator', 'generator')} of {checkpoint})",
        resolution=model_info["resolution"],
        channels=model_info["channels"],
        num_classes=model_info["num_classes"],
        z_dim=model_info["z_dim"],
        class_names=manifest.get("class_names"),
        attention=attention_layers(explore_fn.structured_outputs),
    )
    generator = Generator(info, loaded.signatures[GENERATE_TRUNCATED], explore_fn, loaded.signatures.get(MIX))
    generator.loaded = loaded  # keeps the SavedModel's variables alive with its functions
    return generator


def load_run(logdir: str | Path, raw: bool = False) -> Generator:
    """The generator of a training run (its EMA generator unless ``raw``), through the export's functions."""
    from sagan_tf.data.class_names import class_names
    from sagan_tf.runs.run_dir import latest_checkpoint, load_generator, load_run_config

    load_run_config(logdir)  # "not a training run" before "no checkpoint yet"
    checkpoint = latest_checkpoint(logdir)
    keras_generator, cfg = load_generator(logdir, ema=not raw, checkpoint=checkpoint)
    graph = ServingGraph(keras_generator, cfg.data.num_classes, cfg.model.z_dim)
    specs = graph.input_signatures()
    generate_fn = tf.function(graph.generate_truncated).get_concrete_function(*specs[GENERATE_TRUNCATED])
    explore_fn = tf.function(graph.explore).get_concrete_function(*specs[EXPLORE])
    mix_fn = tf.function(graph.mix).get_concrete_function(*specs[MIX])
    info = ModelInfo(
        source=f"{Path(logdir)} ({keras_generator.name} of {Path(checkpoint).name})",
        resolution=cfg.data.resolution,
        channels=cfg.data.channels,
        num_classes=cfg.data.num_classes,
        z_dim=cfg.model.z_dim,
        class_names=class_names(cfg.data),
        attention=attention_layers(explore_fn.structured_outputs),
    )
    generator = Generator(info, generate_fn, explore_fn, mix_fn)
    generator.keras_generator = keras_generator
    return generator
