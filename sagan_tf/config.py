"""Experiment configuration: typed dataclasses, YAML files in ``configs/``, ``--set`` overrides.

Every key is validated: an unknown key or a value of the wrong type is a ``ConfigError`` naming
the key (``model.chh``), never a silent default. Plain Python: loading and validating a config does
not import TensorFlow (the architectures' tables are ``sagan_tf.architectures``).

A config is named by a path or by the name of a built-in config (``fashion_mnist32``,
``ablation/fashion_mnist32_residual``): ``resolve_path``. A config file may start with
``extends: NAME`` (a built-in name, or a path relative to the file) and then give only the keys it
changes: ``load`` reads the chain of bases first, section by section, key by key.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sagan_tf import architectures, files, ops_choice
from sagan_tf.errors import ConfigError

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")  # Keras dtype policies
PRECISION_CHOICES = ("auto", *PRECISIONS)  # train.precision: auto picks one for the hardware
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
FID_METRICS = ("fid", "is", "kid", "precision", "recall", "density", "coverage")  # log.fid_metrics
TRACKERS = ("tensorboard", "mlflow", "wandb")  # what log.trackers can name (sagan_tf.tracking)
HIGHER_BETTER = ("is", "precision", "recall", "density", "coverage")  # the rest: lower is better


def higher_is_better(metric: str) -> bool | None:
    """Whether a larger value of the in-training metric ``metric`` is better: a property of the metric
    (FID, KID: lower; IS, precision, recall, density, coverage: higher). A per-class name holds its
    metric's name as a word (``fid_class3``, ``precision/3``); None: no known metric in the name."""
    words = [w for w in re.split(r"[^a-z0-9]+", metric.lower()) if w]
    for word in words:
        if word in FID_METRICS:
            return word in HIGHER_BETTER
    return None
AUGMENTATIONS = ("color", "translation", "cutout")  # DiffAugment's operations (sagan_tf.augment)


@dataclass
class DataConfig:
    """Where images come from and how they are shaped (``data.*``)."""

    source: str = "tfds"  # tfds | folder
    name: str = "fashion_mnist"  # TFDS dataset name (source: tfds)
    path: str | None = None  # folder of images, one subfolder per class (source: folder; set it on the command line)
    skip_corrupt: bool = False  # folder: skip unreadable image files (counted) instead of failing
    split: str = "train"
    image_key: str = "image"
    label_key: str | None = "label"  # null: unconditional data
    resolution: int = 32
    channels: int = 3
    num_classes: int = 10  # 0: unconditional; auto (folder): its class subfolders, 0 when it has none
    class_names: list[str] | None = None  # null: the source's own (TFDS label names, a folder's subfolders)
    resize: str = "bilinear"  # bilinear | area | pad (pad a smaller image with black, e.g. 28 -> 32)
    center_crop: bool = True  # crop the central square before resizing
    random_flip: bool = False  # flip each training image left-right with probability 1/2 (seeded)
    shuffle_buffer: int = 10000
    cache: bool = True  # cache decoded, resized uint8 images in memory
    resume: str = "replay"  # replay: a resumed run reads past the batches already used (exact);
    #                         reshuffle: it starts a fresh shuffle seeded by (seed, step) (no re-reading)
    limit: int = 0  # > 0: train on the first N images of a fixed order, balanced over classes (data.subset)

    def dataset(self) -> str:
        """The images' source in one word: the TFDS name, or ``folder:/absolute/path``."""
        return self.name if self.source == "tfds" else f"folder:{Path(self.path or '').resolve()}"


@dataclass
class ModelConfig:
    """Architecture (``model.*``); see ``sagan_tf.models``."""

    arch: str = "resnet"  # resnet (official residual SAGAN, models/resnet.py) | dcgan (tutorial form, models/dcgan.py)
    ch: int = 64
    z_dim: int = 128
    g_attention: list[int] = field(default_factory=lambda: [16])
    d_attention: list[int] = field(default_factory=lambda: [16])
    attention_variant: str = "pooled"  # pooled (official code) | paper (eq. 1-3)
    attention_chunk: int = 0  # 0: whole attention map; c > 0: c queries at a time, memory linear in N
    sync_bn: bool = True  # cross-replica batch statistics in G's batch norms
    bn_momentum: float = 0.9
    attention_block: str = "attention"  # attention | residual (paper Table 1 ablation: equal parameters)
    g_spectral_norm: bool = True  # false: G without spectral norm, D keeps it (paper section 5.1's "SN on D" baseline)
    ops: str = "auto"  # auto | reference | fast | op,op,...: which form of each op in sagan_tf.ops runs (ops_choice)


@dataclass
class TrainConfig:
    """Optimisation (``train.*``): hinge loss, TTUR (section 4.2)."""

    batch_size: int = 64  # global batch over all replicas
    steps: int = 100000  # generator updates
    d_steps: int = 1  # D updates per G update
    accumulate: int = 1  # micro-batches per D and G update, gradients summed (training.accumulation)
    init_from: str | None = None  # a new run starts from this run's (or pretrained:NAME's) weights (trainer.init_from)
    freeze_d: int = 0  # D's first N blocks (and attention after them) are not updated (FreezeD, Mo et al. 2020)
    g_lr: float = 1e-4
    d_lr: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.999  # official code's value (the paper's text says 0.9)
    seed: int = 0
    precision: str = "float32"  # auto | float32 | mixed_bfloat16 | mixed_float16 (sagan_tf.training.precision)
    loss_scale: float = 32768.0  # mixed_float16: initial dynamic loss scale (halved on overflow)
    jit_compile: bool = False  # XLA-compile the step on one device (sagan_tf.training.xla; docs/performance.md)
    ema_decay: float = 0.999  # EMA of G's weights and state (BigGAN); 0 disables
    ema_start: int = 1000  # the EMA copies G until this step, then averages
    lecam_weight: float = 0.0  # LeCam regularisation of D (training.lecam); 0: off
    lecam_decay: float = 0.99  # decay of the LeCam anchors (moving averages of D's outputs)
    mode_seeking: float = 0.0  # weight of the mode-seeking term in G's loss (training.mode_seeking); 0: off
    mode_seeking_per_class: bool = False  # each pair's ratio in units of its class's real spread


@dataclass
class LogConfig:
    """Logging and checkpoint cadence (``log.*``), in training steps."""

    scalars_every: int = 10
    samples_every: int = 500
    samples_per_class: int = 8
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3  # the latest N in checkpoints/ (the best ones in best/ are kept apart)
    attention_every: int = 1000  # attention-map images in TensorBoard; 0: never
    fid_every: int = 0  # FID (and IS) of the sampled G in TensorBoard, best-FID checkpoint; 0: never
    fid_samples: int = 5000
    fid_metrics: list[str] = field(default_factory=lambda: list(FID_METRICS))  # what fid_every logs; fid always
    per_class: bool = True  # conditional runs, with fid_every: intra-FID and fid_metrics' k-NN metrics per class, weakest class
    best_metric: str = "fid"  # which measured metric ranks the checkpoints kept in best/ (runs.best)
    keep_best: int = 1  # the K best checkpoints by best_metric, never rotated away by keep_checkpoints
    heldout: float = 0  # > 0: keep images out of training and show D's outputs on them (training.heldout):
    #                      a count (a whole number), or a share of the images in (0, 1) (data.subset.heldout_count)
    heldout_every: int = 500  # steps between those views
    trackers: list[str] = field(default_factory=lambda: ["tensorboard"])  # any of tensorboard, mlflow, wandb (sagan_tf.tracking)
    tracker_project: str = "sagan_tf"  # the MLflow experiment / W&B project the run is logged in
    mlflow_uri: str | None = None  # MLflow tracking store; null: MLFLOW_TRACKING_URI, else MLflow's default
    wandb_entity: str | None = None  # W&B team or user; null: your default entity


@dataclass
class EvalConfig:
    """Defaults of ``sagan-evaluate`` and of the in-training FID (``eval.*``)."""

    feature_model: str | None = None  # Keras model file for domain FID/IS; null: Inception-v3
    inception_weights: str | None = None  # InceptionV3 weights file; null: Keras' ImageNet download
    split: str | None = None  # real images for reference statistics; null: data.split
    num_real: int = 0  # real images for reference statistics; 0: the whole split
    stats_cache: str | None = None  # directory of cached reference statistics; null: ~/.cache/sagan_tf
    batch_size: int = 100
    is_splits: int = 10  # Inception Score: mean and std over this many splits (Salimans et al.)


@dataclass
class AugmentConfig:
    """Differentiable augmentation of every image D sees, real and generated (``augment.*``;
    ``sagan_tf.augment``, ``training.adaptive``)."""

    policy: str = ""  # comma-separated subset of color,translation,cutout; "": off
    probability: float = 1.0  # per image and operation (1: DiffAugment); ADA's start value
    ada_target: float = 0.0  # > 0: ADA moves the probability to keep E[sign(D(real))] near it (e.g. 0.6)
    ada_interval: int = 4  # steps between ADA's adjustments
    ada_kimg: float = 500.0  # thousands of real images over which ADA can move the probability by 1


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def model_signature(self) -> dict[str, Any]:
        """What a checkpoint's variables depend on: resuming with a different one is an error."""
        d = self.data
        model = dataclasses.asdict(self.model)
        model.pop("attention_chunk")  # how the map is computed, not what is learned
        model.pop("ops")  # likewise: the same function with the same variables
        return {
            "model": model,
            "data": {"resolution": d.resolution, "channels": d.channels, "num_classes": d.num_classes},
        }


_CHOICES = {
    "data.source": ("tfds", "folder"),
    "data.resize": ("bilinear", "area", "pad"),
    "data.resume": ("replay", "reshuffle"),
    "model.arch": architectures.ARCHS,
    "model.attention_variant": ("pooled", "paper"),
    "train.precision": PRECISION_CHOICES,
    "model.attention_block": ("attention", "residual"),
}


# YAML 1.1 (PyYAML) reads 1e-4 (no dot) as a string; a float key accepts that spelling too.
_FLOAT_TEXT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _coerce(key: str, value: Any, tp) -> Any:
    """Checks ``value`` against the annotation ``tp``; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(key, value, args[0])
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"config key {key!r} must be a list of {_type_name(item)}, got {value!r}")
        return [_coerce(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str) and _FLOAT_TEXT.match(value.strip()):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"config key {key!r} must be true or false, got {value!r}")
    if tp in (int, float) and isinstance(value, bool):
        raise ConfigError(f"config key {key!r} must be {_type_name(tp)}, got {value!r}")
    if not isinstance(value, tp):
        raise ConfigError(f"config key {key!r} must be {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    return value


AUTO_CLASSES = -1  # ``data.num_classes: auto``, until sagan-train counts the folder's classes
_AUTO_KEYS = {"data.num_classes": AUTO_CLASSES}


def _set(config: Config, key: str, value: Any) -> None:
    parts = key.split(".")
    if len(parts) != 2:
        raise ConfigError(f"config key {key!r} must be section.name (sections: {', '.join(_sections())})")
    section_name, name = parts
    if section_name not in _sections():
        raise ConfigError(f"unknown config section {section_name!r} in {key!r} (sections: {', '.join(_sections())})")
    section = getattr(config, section_name)
    hints = typing.get_type_hints(type(section))
    if name not in hints:
        raise ConfigError(f"unknown config key {key!r} (known in {section_name}: {', '.join(sorted(hints))})")
    if key in _AUTO_KEYS and value == "auto":
        value = _AUTO_KEYS[key]
    value = _coerce(key, value, hints[name])
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ConfigError(f"config key {key!r} must be one of {', '.join(_CHOICES[key])}, got {value!r}")
    setattr(section, name, value)


def _sections() -> list[str]:
    return [f.name for f in dataclasses.fields(Config)]


def from_dict(raw: Any, base: Config | None = None) -> Config:
    """Builds a validated ``Config`` from nested dicts (as read from YAML)."""
    config = base if base is not None else Config()
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a mapping of sections, got {type(raw).__name__}")
    for section_name, section in raw.items():
        if section_name not in _sections():
            raise ConfigError(f"unknown config section {section_name!r} (sections: {', '.join(_sections())})")
        if not isinstance(section, dict):
            raise ConfigError(f"config section {section_name!r} must be a mapping, got {section!r}")
        for name, value in section.items():
            _set(config, f"{section_name}.{name}", value)
    validate(config)
    return config


def builtin_dir() -> Path:
    """The built-in configs: ``sagan_tf/configs`` of an installed wheel, else the ``configs/``
    directory of the checkout this module runs from (an editable install runs from the checkout)."""
    here = Path(__file__).resolve().parent
    installed, checkout = here / "configs", here.parent / "configs"
    return installed if installed.is_dir() else checkout


def builtin_names() -> list[str]:
    root = builtin_dir()
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))


def resolve_path(name: str | Path) -> Path:
    """A config file: ``name`` itself when it exists, else the built-in config of that name
    (``fashion_mnist32``, ``ablation/fashion_mnist32_residual``, with or without ``configs/`` and
    ``.yaml``)."""
    path = Path(name)
    if path.is_file():
        return path
    stem = path.as_posix().removeprefix("configs/").removesuffix(".yaml")
    builtin = builtin_dir() / f"{stem}.yaml"
    if builtin.is_file():
        return builtin
    raise ConfigError(f"config file not found: {name} (built-in configs: {', '.join(builtin_names())})")


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Reads a YAML config (a path or a built-in name, ``resolve_path``), with the bases it ``extends``,
    and applies ``key=value`` overrides (values parsed as YAML)."""
    config = from_dict(read_raw(path))
    apply_overrides(config, overrides)
    return config


def read_raw(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict:
    """The config's sections as plain dicts, its ``extends`` chain merged in (the file's own keys win)."""
    path = resolve_path(path).resolve()
    if path in _chain:
        cycle = " -> ".join(p.name for p in (*_chain, path))
        raise ConfigError(f"config {path} extends itself ({cycle})")
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path} must be a mapping of sections, got {type(raw).__name__}")
    base = raw.pop("extends", None)
    if base is None:
        return raw
    if not isinstance(base, str) or not base:
        raise ConfigError(f"config {path}: 'extends' must name one config (a built-in name or a path), got {base!r}")
    relative = path.parent / base
    merged = read_raw(relative if relative.is_file() else base, (*_chain, path))
    for section_name, section in raw.items():
        if isinstance(section, dict) and isinstance(merged.get(section_name), dict):
            merged[section_name] = {**merged[section_name], **section}
        else:
            merged[section_name] = section
    return merged


def apply_overrides(config: Config, overrides: list[str] | tuple[str, ...]) -> Config:
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        key, text = item.split("=", 1)
        try:  # an empty value is the empty string (augment.policy=), null is None
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        _set(config, key.strip(), value)
    validate(config)
    return config


def validate(config: Config) -> None:
    """Cross-field checks that a single key's type cannot express."""
    d, m, t, log = config.data, config.model, config.train, config.log
    positive = {
        "data.resolution": d.resolution,
        "data.channels": d.channels,
        "model.ch": m.ch,
        "model.z_dim": m.z_dim,
        "train.batch_size": t.batch_size,
        "train.steps": t.steps,
        "train.d_steps": t.d_steps,
        "train.accumulate": t.accumulate,
        "log.scalars_every": log.scalars_every,
        "log.samples_every": log.samples_every,
        "log.samples_per_class": log.samples_per_class,
        "log.checkpoint_every": log.checkpoint_every,
        "log.keep_checkpoints": log.keep_checkpoints,
        "log.keep_best": log.keep_best,
        "log.fid_samples": log.fid_samples,
        "eval.batch_size": config.eval.batch_size,
        "eval.is_splits": config.eval.is_splits,
        "log.heldout_every": log.heldout_every,
        "augment.ada_interval": config.augment.ada_interval,
        "augment.ada_kimg": config.augment.ada_kimg,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"config key {key!r} must be positive, got {value}")
    if m.attention_chunk < 0:
        raise ConfigError(f"config key 'model.attention_chunk' must be >= 0 (0: whole map), got {m.attention_chunk}")
    if d.num_classes == AUTO_CLASSES and d.source != "folder":
        raise ConfigError("config key 'data.num_classes': auto counts a folder's subfolders; give the number for data.source tfds")
    if d.num_classes < 0 and d.num_classes != AUTO_CLASSES:
        raise ConfigError(f"config key 'data.num_classes' must be >= 0 or auto, got {d.num_classes}")
    if d.class_names is not None and d.num_classes >= 0 and len(d.class_names) != d.num_classes:
        raise ConfigError(
            f"config key 'data.class_names' has {len(d.class_names)} names for data.num_classes {d.num_classes}"
        )
    if d.channels not in (1, 3):
        raise ConfigError(f"config key 'data.channels' must be 1 or 3, got {d.channels}")
    resolutions = architectures.RESOLUTIONS[m.arch]
    if d.resolution not in resolutions:
        raise ConfigError(
            f"config key 'data.resolution' must be one of {list(resolutions)} for model.arch {m.arch}, got {d.resolution}"
        )
    if d.num_classes > 0 and not d.label_key and d.source == "tfds":
        raise ConfigError("data.num_classes > 0 needs data.label_key (or set data.num_classes: 0)")
    for key, value in (("train.g_lr", t.g_lr), ("train.d_lr", t.d_lr), ("train.loss_scale", t.loss_scale)):
        if value <= 0:
            raise ConfigError(f"config key {key!r} must be positive, got {value}")
    for key, value in (("train.ema_start", t.ema_start), ("log.attention_every", log.attention_every),
                       ("log.fid_every", log.fid_every), ("eval.num_real", config.eval.num_real),
                       ("data.limit", d.limit), ("log.heldout", log.heldout), ("train.lecam_weight", t.lecam_weight),
                       ("train.freeze_d", t.freeze_d), ("train.mode_seeking", t.mode_seeking)):
        if value < 0:
            raise ConfigError(f"config key {key!r} must be >= 0, got {value}")
    for key, value in (("train.beta1", t.beta1), ("train.beta2", t.beta2), ("model.bn_momentum", m.bn_momentum),
                       ("train.ema_decay", t.ema_decay), ("train.lecam_decay", t.lecam_decay),
                       ("augment.ada_target", config.augment.ada_target)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"config key {key!r} must be in [0, 1), got {value}")
    if log.heldout >= 1 and log.heldout != int(log.heldout):
        raise ConfigError(f"config key 'log.heldout' must be a count (a whole number) or a share in (0, 1), got {log.heldout}")
    if log.heldout >= 1 or log.heldout == 0:
        log.heldout = int(log.heldout)
    validate_augment(config.augment)
    unknown = [name for name in log.fid_metrics if name not in FID_METRICS]
    if unknown or "fid" not in log.fid_metrics:
        raise ConfigError(f"config key 'log.fid_metrics' must list fid and any of {', '.join(FID_METRICS[1:])}, "
                          f"got {log.fid_metrics}")
    if set(log.fid_metrics) - {"fid", "is"} and log.fid_samples < 6:
        raise ConfigError(f"config key 'log.fid_samples' must be >= 6 for {', '.join(log.fid_metrics)} (k-NN radii of k = 5)")
    if log.fid_every and log.per_class and d.num_classes > 0:
        least = 6 if set(log.fid_metrics) - {"fid", "is", "kid"} else 2
        if log.fid_samples < least * d.num_classes:
            raise ConfigError(f"config key 'log.fid_samples' must be >= {least * d.num_classes} for per-class metrics "
                              f"({least} per class of {d.num_classes}), got {log.fid_samples}; or set log.per_class: false")
    validate_best_metric(log)
    validate_trackers(log)
    if t.batch_size % t.accumulate:
        raise ConfigError(f"config key 'train.batch_size' {t.batch_size} is not divisible by train.accumulate {t.accumulate}")
    for key, wanted, available, net in (
        ("model.g_attention", m.g_attention, architectures.generator_resolutions(m.arch, d.resolution), "G"),
        ("model.d_attention", m.d_attention, architectures.discriminator_resolutions(m.arch, d.resolution), "D"),
    ):
        try:
            architectures.check_attention(wanted, available, m.attention_variant, net)
        except ValueError as e:
            raise ConfigError(f"config key {key!r} at resolution {d.resolution}: {e}") from None
    if m.attention_block != "attention" and m.arch != "resnet":
        raise ConfigError(f"config key 'model.attention_block': {m.attention_block} needs model.arch resnet")
    if m.attention_chunk and m.arch != "resnet":
        raise ConfigError("config key 'model.attention_chunk' needs model.arch resnet (set it to 0)")
    try:
        ops_choice.check(m.ops)
    except ValueError as e:
        raise ConfigError(f"config key 'model.ops': {e}") from None


def augment_policy(text: str) -> tuple[str, ...]:
    """``augment.policy`` as a tuple of operations (``"color, cutout"`` -> ``("color", "cutout")``)."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    for name in names:
        if name not in AUGMENTATIONS:
            raise ConfigError(f"config key 'augment.policy': unknown operation {name!r} (known: {', '.join(AUGMENTATIONS)})")
    if len(set(names)) != len(names):
        raise ConfigError(f"config key 'augment.policy' names an operation twice: {text!r}")
    return names


def validate_best_metric(log: LogConfig) -> None:
    """``log.best_metric`` names a metric whose direction is known and that the run measures."""
    if higher_is_better(log.best_metric) is None:
        raise ConfigError(f"config key 'log.best_metric' must name a measured metric ({', '.join(FID_METRICS)}, "
                          f"or a per-class name holding one), got {log.best_metric!r}")
    if log.best_metric in FID_METRICS and log.best_metric not in log.fid_metrics:
        raise ConfigError(f"config key 'log.best_metric' is {log.best_metric}, which log.fid_metrics "
                          f"({', '.join(log.fid_metrics)}) does not measure")


def validate_trackers(log: LogConfig) -> None:
    """``log.trackers`` names known trackers, each once."""
    unknown = [name for name in log.trackers if name not in TRACKERS]
    if unknown or len(set(log.trackers)) != len(log.trackers):
        raise ConfigError(f"config key 'log.trackers' must list each of {', '.join(TRACKERS)} at most once, got {log.trackers}")
    if not log.tracker_project.strip():
        raise ConfigError("config key 'log.tracker_project' must not be empty")


def validate_augment(a: AugmentConfig) -> None:
    policy = augment_policy(a.policy)
    if not 0.0 <= a.probability <= 1.0:
        raise ConfigError(f"config key 'augment.probability' must be in [0, 1], got {a.probability}")
    if a.ada_target > 0 and not policy:
        raise ConfigError("config key 'augment.ada_target' adapts the augmentation's probability: set augment.policy too")


# data keys that only one data.source reads: dump leaves out the other source's
SOURCE_KEYS = {"tfds": ("name", "image_key"), "folder": ("path", "skip_corrupt")}


def dump(config: Config) -> str:
    """The config as YAML, every key resolved (no ``extends``), without the keys of the data source
    it does not use (``SOURCE_KEYS``: a folder run has no ``data.name``)."""
    raw = config.to_dict()
    for source, keys in SOURCE_KEYS.items():
        if source != config.data.source:
            for key in keys:
                raw["data"].pop(key)
    for key, auto in _AUTO_KEYS.items():
        section, name = key.split(".")
        if raw[section][name] == auto:
            raw[section][name] = "auto"
    return yaml.safe_dump(raw, sort_keys=False)


def save(config: Config, path: str | Path) -> None:
    """Writes the config as YAML atomically (``files.write_text``)."""
    files.write_text(path, dump(config))
