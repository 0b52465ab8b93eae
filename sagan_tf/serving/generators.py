"""A trained generator in Python: ``load_generator(source)`` -> ``TrainedGenerator``.

The source is a training run, an export or a shipped generator (``sagan_tf.serving.sources``). A
``TrainedGenerator`` calls the export's signatures (``sagan_tf.serving.signatures``): for an export
they are the SavedModel's own; for a run they are the same ``ServingGraph`` functions traced around
the run's Keras generator (its EMA generator unless ``raw``), each on first use, so that a run and
its export give the same images for the same inputs:

* ``generate(seeds, labels)``: uint8 images (B, R, R, C), z drawn from each seed as the
  ``generate`` / ``generate_truncated`` signatures draw it (a stateless Philox draw, optionally
  truncated to [-t, t]): a seed gives the image a TF Serving client gets for it;
  ``generate(z=z, labels=labels)``: the images of ``serving_default`` for given z. Labels are class
  ids or class names (``sagan_tf.serving.inputs``);
* ``images_and_z(seeds, labels, truncation)``: ``generate_truncated`` itself, (images, z), unchecked;
* ``explore(z, class_weights)``: the images of a class mixture and every attention layer's map
  beta (B, N_query, N_key), the softmax rows of paper eq. 1;
* ``mix(z, class_weights)``: the same images without the maps (``mix``). An export written before
  ``mix`` existed has none: its images come from ``explore``, whose maps are dropped in the graph
  call's own output and never copied out.

``sagan-explore`` serves a ``TrainedGenerator`` and ``sagan-sample`` draws from one;
``evaluation.image_sources`` traces a run's ``generate_truncated`` with ``TracedFunctions``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from sagan_tf.errors import SaganError
from sagan_tf.images import square_grid
from sagan_tf.serving import inputs
from sagan_tf.serving.signatures import EXPLORE, GENERATE_TRUNCATED, MIX, SERVING_DEFAULT, ServingGraph, label_count
from sagan_tf.serving.sources import GeneratorSource, find, version_directory

IMAGE_OUTPUTS = ("images", "images_float")
BATCH = 256  # images per generator call of ``generate``


@dataclass(frozen=True)
class AttentionLayer:
    """One attention layer of G: its map has query_grid[0] * query_grid[1] rows over the key grid."""

    name: str
    query_grid: tuple[int, int]
    key_grid: tuple[int, int]


@dataclass
class ModelInfo:
    """What the generator draws, and (``TrainedGenerator.info``) its attention layers."""

    source: str
    resolution: int
    channels: int
    num_classes: int  # 0: unconditional (every label is 0)
    z_dim: int
    class_names: list[str] | None = None
    attention: list[AttentionLayer] = field(default_factory=list)
    name: str = "generator"  # the network: generator_ema (G's moving average) or generator

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


class TracedFunctions:
    """The export's signatures as ``tf.function``s traced around a Keras generator (``ServingGraph``),
    each traced on first use; ``get(name)`` as ``loaded.signatures.get`` answers for a SavedModel."""

    def __init__(self, generator, num_classes: int, z_dim: int):
        self.graph = ServingGraph(generator, num_classes, z_dim)
        self.specs = self.graph.input_signatures()
        self.traced: dict[str, Callable] = {}

    def get(self, name: str) -> Callable | None:
        if name not in self.specs:
            return None
        if name not in self.traced:
            self.traced[name] = tf.function(getattr(self.graph, name)).get_concrete_function(*self.specs[name])
        return self.traced[name]


class TrainedGenerator:
    """A trained generator behind the export's functions (module docstring).

    ``functions.get(name)`` returns the function of signature ``name`` (called with its inputs as
    keywords) or None; ``info`` describes the model (its ``attention`` is read from the ``explore``
    function when first asked for). ``keras_generator``: the Keras model of a run, None for an export.
    """

    source: str  # where the generator was loaded from, and which checkpoint
    name: str  # generator_ema (the moving average of G's weights) or generator (the trained G)
    resolution: int  # image height and width in pixels
    channels: int  # 1 (grey) or 3 (RGB)
    num_classes: int  # 0: unconditional
    z_dim: int
    class_names: list[str] | None  # one name per class, or None when the data named none

    def __init__(self, info: ModelInfo, functions, keras_generator=None, keep_alive=None):
        self._info = info
        self._functions = functions
        self.keras_generator = keras_generator
        self._keep_alive = keep_alive  # a loaded SavedModel: its variables live as long as its functions
        self.source, self.name, self.class_names = info.source, info.name, info.class_names
        self.resolution, self.channels, self.num_classes, self.z_dim = info.resolution, info.channels, info.num_classes, info.z_dim

    def _function(self, name: str) -> Callable:
        function = self._functions.get(name)
        if function is None:
            raise SaganError(f"{self.source} has no {name} signature (exported by an earlier sagan-export); export the run again")
        return function

    @functools.cached_property
    def info(self) -> ModelInfo:
        return dataclasses.replace(self._info, attention=attention_layers(self._function(EXPLORE).structured_outputs))

    def generate(
        self,
        seeds: int | Sequence[int] | np.ndarray | None = None,
        labels=None,
        *,
        z: np.ndarray | None = None,
        truncation: float = math.inf,
        batch_size: int = BATCH,
    ) -> np.ndarray:
        """uint8 images (B, R, R, C): of ``seeds`` (z drawn from each seed, truncated to
        [-truncation, truncation]) or of ``z`` (float32 (B, z_dim)), exactly one of them. ``labels``:
        one class (id or name) for every image or one per image; required for a class-conditional
        generator. At most ``batch_size`` images per generator call (the images do not depend on it)."""
        if (seeds is None) == (z is None):
            raise SaganError("generate takes seeds or z: exactly one of them")
        t = inputs.truncation_value(truncation)
        if seeds is not None:
            values = inputs.seed_array(seeds)

            def draw(seeds_part: np.ndarray, labels_part: np.ndarray) -> np.ndarray:
                return self.images_and_z(seeds_part, labels_part, t)[0]
        else:
            if not math.isinf(t):
                raise SaganError("truncation applies to the z drawn from seeds; with z given, truncate z itself")
            values = inputs.latent_array(z, self.z_dim)
            draw = self._images
        ids = inputs.label_ids(labels, len(values), self.num_classes, self.class_names)
        parts = [draw(values[part], ids[part]) for part in inputs.batches(len(values), batch_size)]
        if not parts:
            return np.zeros((0, self.resolution, self.resolution, self.channels), np.uint8)
        return np.concatenate(parts)

    def _images(self, z: np.ndarray, labels: np.ndarray) -> np.ndarray:
        out = self._function(SERVING_DEFAULT)(z=tf.constant(z, tf.float32), labels=tf.constant(labels, tf.int32))
        return out["images"].numpy()

    def images_and_z(self, seeds, labels, truncation: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 images (B, R, R, C), z (B, z_dim) float32) for each (seed, label): ``generate_truncated``."""
        out = self._function(GENERATE_TRUNCATED)(
            seed=tf.constant(np.asarray(seeds, np.int64)),
            labels=tf.constant(np.asarray(labels, np.int32)),
            truncation=tf.constant(truncation, tf.float32),
        )
        return out["images"].numpy(), out["z"].numpy()

    def explore(self, z, class_weights) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(uint8 images, {attention layer: beta (B, N_query, N_key)}) for z and class mixtures."""
        out = self._function(EXPLORE)(
            z=tf.constant(np.asarray(z, np.float32)), class_weights=tf.constant(np.asarray(class_weights, np.float32))
        )
        maps = {layer.name: out[layer.name].numpy() for layer in self.info.attention}
        return out["images"].numpy(), maps

    def mix(self, z, class_weights) -> np.ndarray:
        """uint8 images (B, R, R, C) for z and class mixtures, without attention maps."""
        arguments = {"z": tf.constant(np.asarray(z, np.float32)),
                     "class_weights": tf.constant(np.asarray(class_weights, np.float32))}
        function = self._functions.get(MIX) or self._function(EXPLORE)
        return function(**arguments)["images"].numpy()


def load_export(model: str | Path, version: int | None = None) -> TrainedGenerator:
    """The generator of a ``sagan-export`` version directory (or base path: ``version``, else the
    newest), run through its own signatures."""
    from sagan_tf.serving.export import MANIFEST

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
    model_info = manifest["model"]
    source = manifest.get("source", {})
    checkpoint = Path(source["checkpoint"]).name if source.get("checkpoint") else "an unknown checkpoint"
    name = source.get("generator", "generator")
    info = ModelInfo(
        source=f"{path} ({name} of {checkpoint})",
        resolution=model_info["resolution"],
        channels=model_info["channels"],
        num_classes=model_info["num_classes"],
        z_dim=model_info["z_dim"],
        class_names=manifest.get("class_names"),
        name=name,
    )
    return TrainedGenerator(info, loaded.signatures, keep_alive=loaded)


def load_run(logdir: str | Path, raw: bool = False, checkpoint: str | None = None) -> TrainedGenerator:
    """The generator of a training run (its EMA generator unless ``raw``) at ``checkpoint``
    ("latest", the default; "best": the best kept by ``log.best_metric``; a step; or a checkpoint
    path: ``runs.choice``); ``info.source`` names the checkpoint and why it was chosen."""
    from sagan_tf.data.class_names import class_names
    from sagan_tf.runs.choice import choose_checkpoint
    from sagan_tf.runs.run_dir import load_generator as load_keras_generator
    from sagan_tf.runs.run_dir import load_run_config

    load_run_config(logdir)  # "not a training run" before "no checkpoint yet"
    chosen = choose_checkpoint(logdir, checkpoint)
    keras_generator, cfg = load_keras_generator(logdir, ema=not raw, checkpoint=chosen.path)
    info = ModelInfo(
        source=f"{Path(logdir)} ({keras_generator.name} of {Path(chosen.path).name}: {chosen.reason})",
        resolution=cfg.data.resolution,
        channels=cfg.data.channels,
        num_classes=cfg.data.num_classes,
        z_dim=cfg.model.z_dim,
        class_names=class_names(cfg.data),
        name=keras_generator.name,
    )
    functions = TracedFunctions(keras_generator, cfg.data.num_classes, cfg.model.z_dim)
    return TrainedGenerator(info, functions, keras_generator=keras_generator)


def load_generator(
    source: str | Path | GeneratorSource, *, raw: bool = False, checkpoint: str | None = None
) -> TrainedGenerator:
    """The generator of a run directory, an export (base path: its newest version; or a version
    directory) or a shipped generator (``"pretrained:fashion_mnist32"``, or the bare name when no
    such directory exists). For a run: its EMA generator unless ``raw``, at ``checkpoint`` ("latest",
    "best", a step or a path); an export holds the one generator it was written with."""
    found = find(source)
    if found.kind == "export":
        for option, given in (("raw", raw), ("checkpoint", checkpoint)):
            if given:
                raise SaganError(f"{option} is for runs: the export {found.path} holds the one generator it was written with")
        return load_export(found.path)
    return load_run(found.path, raw=raw, checkpoint=checkpoint)
