"""Config system: typed defaults, nested mappings, ``--set`` overrides, validation errors, YAML I/O.

Every error is a ``ConfigError`` whose message names the offending key; the expected values are
written out literally here (not read back from the module under test).
"""

import dataclasses

import pytest
import yaml

from sagan_tf import config as config_mod
from sagan_tf.config import (
    PRECISION_CHOICES,
    Config,
    DataConfig,
    ModelConfig,
    apply_overrides,
    builtin_names,
    dump,
    from_dict,
    load,
    read_raw,
    resolve_path,
    save,
    validate,
)
from sagan_tf.errors import ConfigError, SaganError


def _raises(key, fn, *args):
    """Calls ``fn(*args)``, expects a one-line ``ConfigError`` that names ``key``; returns the message."""
    with pytest.raises(ConfigError) as info:
        fn(*args)
    message = str(info.value)
    assert key in message, f"{key!r} not named in: {message}"
    assert "\n" not in message
    return message


# ----------------------------------------------------------------------------------------- defaults


def test_defaults_build_and_validate():
    cfg = Config()
    validate(cfg)  # the defaults are consistent
    assert (cfg.data.source, cfg.data.name, cfg.data.resolution, cfg.data.channels) == ("tfds", "fashion_mnist", 32, 3)
    assert (cfg.data.num_classes, cfg.data.label_key, cfg.data.resize) == (10, "label", "bilinear")
    assert (cfg.model.ch, cfg.model.z_dim, cfg.model.g_attention, cfg.model.d_attention) == (64, 128, [16], [16])
    assert (cfg.train.batch_size, cfg.train.g_lr, cfg.train.d_lr) == (64, 1e-4, 4e-4)
    assert (cfg.train.beta1, cfg.train.beta2) == (0.0, 0.999)
    assert from_dict({}).to_dict() == cfg.to_dict()
    assert from_dict(None).to_dict() == cfg.to_dict()


def test_defaults_are_not_shared_between_instances():
    a, b = Config(), Config()
    a.model.g_attention.append(8)
    assert b.model.g_attention == [16]


# ----------------------------------------------------------------------------------------- from_dict


def test_from_dict_sets_nested_values_and_keeps_the_rest():
    raw = {
        "data": {"source": "folder", "path": "/images", "num_classes": 0, "channels": 1, "resize": "pad"},
        "model": {"ch": 32, "g_attention": [8, 32], "d_attention": [8], "attention_variant": "paper"},
        "train": {"batch_size": 16, "steps": 7, "g_lr": 0.0002},
        "log": {"samples_every": 3},
    }
    cfg = from_dict(raw)
    assert (cfg.data.source, cfg.data.path, cfg.data.num_classes, cfg.data.channels) == ("folder", "/images", 0, 1)
    assert cfg.data.resize == "pad"
    assert (cfg.model.ch, cfg.model.g_attention, cfg.model.d_attention) == (32, [8, 32], [8])
    assert cfg.model.attention_variant == "paper"
    assert (cfg.train.batch_size, cfg.train.steps, cfg.train.g_lr) == (16, 7, 0.0002)
    assert cfg.log.samples_every == 3
    # untouched keys keep their defaults
    assert (cfg.model.z_dim, cfg.train.d_lr, cfg.log.checkpoint_every, cfg.data.split) == (128, 4e-4, 1000, "train")


def test_from_dict_accepts_ints_for_float_keys():
    cfg = from_dict({"train": {"g_lr": 1, "d_lr": 2, "beta1": 0, "beta2": 0}, "model": {"bn_momentum": 0}})
    for value, expected in ((cfg.train.g_lr, 1.0), (cfg.train.d_lr, 2.0), (cfg.train.beta1, 0.0),
                            (cfg.train.beta2, 0.0), (cfg.model.bn_momentum, 0.0)):
        assert type(value) is float
        assert value == expected


def test_scalar_for_list_key_becomes_one_element_list():
    cfg = from_dict({"model": {"g_attention": 8}})
    assert cfg.model.g_attention == [8]


# ----------------------------------------------------------------------------------------- overrides


def test_apply_overrides_parses_yaml_values():
    cfg = apply_overrides(
        Config(), ["model.ch=32", "model.g_attention=[8,16]", "data.label_key=null", "data.num_classes=0"]
    )
    assert cfg.model.ch == 32 and type(cfg.model.ch) is int
    assert cfg.model.g_attention == [8, 16]
    assert cfg.data.label_key is None
    assert cfg.data.num_classes == 0


def test_apply_overrides_more_yaml_types():
    cfg = apply_overrides(
        Config(), ["data.center_crop=false", "train.beta2=0.9", "data.name= mnist", "data.split=train[:10%]"]
    )
    assert cfg.data.center_crop is False
    assert cfg.train.beta2 == 0.9
    assert cfg.data.name == "mnist"
    assert cfg.data.split == "train[:10%]"


def test_an_empty_override_is_the_empty_string_not_null():
    cfg = load("folder32_small", ["data.path=/images", "augment.policy="])
    assert cfg.augment.policy == ""
    _raises("model.ch", apply_overrides, Config(), ["model.ch="])  # an int key: the type error names it


def test_label_key_null_with_classes_is_inconsistent():
    """Overrides that drop the labels of the default (conditional, 10-class TFDS) config: no labels but 10 classes."""
    _raises("label_key", apply_overrides, Config(), ["model.ch=32", "model.g_attention=[8,16]", "data.label_key=null"])


def test_scientific_notation_learning_rates(tmp_path):
    """PyYAML (YAML 1.1) reads '1e-4' (no dot) as a string; float keys accept it anyway."""
    cfg = apply_overrides(Config(), ["train.g_lr=1e-4", "train.d_lr=4e-4"])
    assert (cfg.train.g_lr, cfg.train.d_lr) == (1e-4, 4e-4)
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  g_lr: 2e-4\n")
    assert load(path).train.g_lr == 2e-4
    with pytest.raises(ConfigError, match="train.g_lr"):
        apply_overrides(Config(), ["train.g_lr=1e-4x"])


# ----------------------------------------------------------------------------------------- errors


def test_errors_are_sagan_errors():
    assert issubclass(ConfigError, SaganError)


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"modle": {"ch": 3}}, "modle"),  # unknown section
        ({"model": {"chh": 3}}, "model.chh"),  # unknown key
        ({"model": {"ch": "32"}}, "model.ch"),  # str for int
        ({"data": {"center_crop": 1}}, "data.center_crop"),  # int for bool
        ({"model": {"ch": True}}, "model.ch"),  # bool for int
        ({"train": {"g_lr": True}}, "train.g_lr"),  # bool for float
        ({"train": {"g_lr": "fast"}}, "train.g_lr"),  # str for float
        ({"model": {"g_attention": ["a"]}}, "model.g_attention"),  # bad list item
        ({"model": {"g_attention": {"a": 1}}}, "model.g_attention"),  # not a list
        ({"data": {"resize": "foo"}}, "data.resize"),  # bad choice
        ({"data": {"source": "http"}}, "data.source"),
        ({"data": {"resume": "restart"}}, "data.resume"),
        ({"model": {"attention_variant": "full"}}, "model.attention_variant"),
        ({"train": {"batch_size": 0}}, "train.batch_size"),  # non-positive
        ({"train": {"batch_size": -4}}, "train.batch_size"),
        ({"model": {"ch": 0}}, "model.ch"),
        ({"log": {"keep_checkpoints": 0}}, "log.keep_checkpoints"),
        ({"train": {"g_lr": 0}}, "train.g_lr"),
        ({"data": {"num_classes": -1}}, "data.num_classes"),
        ({"data": {"channels": 2}}, "data.channels"),
        ({"data": {"resolution": 48}}, "data.resolution"),
        ({"model": {"d_attention": [32]}}, "model.d_attention"),  # D blocks at 32: 16, 8, 8, 8
        ({"model": {"g_attention": [4]}}, "model.g_attention"),  # G blocks at 32: 8, 16, 32
        ({"model": {"g_attention": [64]}}, "model.g_attention"),
        ({"train": {"beta2": 1.0}}, "train.beta2"),  # [0, 1)
        ({"train": {"beta2": 1}}, "train.beta2"),
        ({"train": {"beta2": -0.1}}, "train.beta2"),
        ({"train": {"beta1": 1.5}}, "train.beta1"),
        ({"model": {"bn_momentum": 1.0}}, "model.bn_momentum"),
        ({"model": 3}, "model"),  # section not a mapping
        ({"augment": {"policy": "color,blur"}}, "augment.policy"),  # unknown operation
        ({"augment": {"policy": "color,color"}}, "augment.policy"),
        ({"augment": {"probability": 1.5}}, "augment.probability"),
        ({"augment": {"ada_target": 0.6}}, "augment.ada_target"),  # adapts nothing without a policy
        ({"augment": {"policy": "color", "ada_target": 1.0}}, "augment.ada_target"),
        ({"augment": {"ada_interval": 0}}, "augment.ada_interval"),
        ({"train": {"lecam_weight": -0.1}}, "train.lecam_weight"),
        ({"train": {"lecam_decay": 1.0}}, "train.lecam_decay"),
        ({"data": {"limit": -5}}, "data.limit"),
        ({"log": {"heldout": -1}}, "log.heldout"),
        ({"log": {"heldout_every": 0}}, "log.heldout_every"),
    ],
)
def test_from_dict_errors_name_the_key(raw, key):
    _raises(key, from_dict, raw)


def test_augment_policy_parses_any_subset_in_any_spelling():
    from sagan_tf.config import augment_policy

    assert augment_policy("") == ()
    assert augment_policy(" cutout, color ") == ("cutout", "color")
    cfg = from_dict({"augment": {"policy": "color,translation,cutout", "ada_target": 0.6, "probability": 0}})
    assert (cfg.augment.ada_target, cfg.augment.probability) == (0.6, 0.0)


def test_top_level_must_be_a_mapping():
    _raises("mapping", from_dict, [1, 2])


def test_attention_resolutions_that_exist_are_accepted():
    cfg = from_dict({"model": {"g_attention": [8, 16, 32], "d_attention": [16, 8]}})
    assert (cfg.model.g_attention, cfg.model.d_attention) == ([8, 16, 32], [16, 8])
    cfg = from_dict({"data": {"resolution": 64}, "model": {"g_attention": [32], "d_attention": [32, 4]}})
    assert (cfg.model.g_attention, cfg.model.d_attention) == ([32], [32, 4])


def test_beta_bounds_inclusive_exclusive():
    assert from_dict({"train": {"beta2": 0.0}}).train.beta2 == 0.0
    assert from_dict({"train": {"beta2": 0.999}}).train.beta2 == 0.999


@pytest.mark.parametrize(
    "override, key",
    [
        ("model.ch", "model.ch"),  # malformed: no '='
        ("model.chh=3", "model.chh"),
        ("modle.ch=3", "modle"),
        ("ch=3", "ch"),  # no section
        ("model.ch.x=3", "model.ch.x"),
        ("model.ch=abc", "model.ch"),
        ("model.ch=true", "model.ch"),
        ("data.center_crop=1", "data.center_crop"),
        ("data.resize=foo", "data.resize"),
        ("train.batch_size=0", "train.batch_size"),
        ("model.d_attention=[32]", "model.d_attention"),
        ("train.beta2=1.0", "train.beta2"),
        ("data.num_classes=auto", "data.num_classes"),  # auto needs a folder
        ("data.num_classes=-2", "data.num_classes"),
        ("data.class_names=[a,b]", "data.class_names"),  # 10 classes
    ],
)
def test_override_errors_name_the_key(override, key):
    _raises(key, apply_overrides, Config(), [override])


# ----------------------------------------------------------------------------------------- files


def test_load_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    message = _raises(str(path), load, path)
    assert "not found" in message


def test_load_invalid_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  ch: [1, 2\n  z_dim: 3\n")
    message = _raises(str(path), load, path)
    assert "YAML" in message


def test_load_reads_file_and_applies_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  ch: 48\n  z_dim: 20\ntrain:\n  batch_size: 8\n")
    cfg = load(path, ["model.z_dim=10"])
    assert (cfg.model.ch, cfg.model.z_dim, cfg.train.batch_size) == (48, 10, 8)


def test_load_unknown_key_in_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  chh: 48\n")
    _raises("model.chh", load, path)


def test_save_load_round_trip(tmp_path):
    cfg = from_dict(
        {
            "data": {"source": "folder", "path": str(tmp_path / "imgs"), "num_classes": 0, "label_key": None},
            "model": {"ch": 16, "g_attention": [8, 32], "attention_variant": "paper", "sync_bn": False},
            "train": {"g_lr": 1e-5, "d_lr": 3.5e-4, "beta2": 0.9, "seed": 123},
            "log": {"samples_every": 7},
        }
    )
    path = tmp_path / "out" / "config.yaml"
    path.parent.mkdir()
    save(cfg, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.yaml"]  # no .tmp left behind
    expected = cfg.to_dict()
    for key in ("name", "image_key"):  # TFDS keys: not in a folder run's config
        expected["data"].pop(key)
    assert yaml.safe_load(path.read_text()) == expected
    again = load(path)
    assert again.to_dict() == cfg.to_dict()
    assert again.train.g_lr == 1e-5 and again.data.label_key is None and again.model.sync_bn is False


@pytest.mark.parametrize("name,absent,present", [
    ("folder64", {"name", "image_key"}, {"path", "skip_corrupt"}),
    ("fashion_mnist32", {"path", "skip_corrupt"}, {"name", "image_key"}),
])
def test_a_dumped_config_holds_only_its_data_sources_keys(name, absent, present):
    data = yaml.safe_load(dump(load(name)))["data"]
    assert not absent & set(data) and present <= set(data)


def test_heldout_is_a_count_or_a_share():
    assert load("folder32_small").log.heldout == 0.1
    assert from_dict({"log": {"heldout": 200}}).log.heldout == 200
    assert isinstance(from_dict({"log": {"heldout": 200}}).log.heldout, int)
    with pytest.raises(ConfigError, match="must be a count"):
        from_dict({"log": {"heldout": 2.5}})


def test_every_builtin_config_sets_its_precision():
    for name in builtin_names():
        raw = read_raw(resolve_path(name))
        assert raw.get("train", {}).get("precision") in PRECISION_CHOICES, name


def test_no_builtin_config_repeats_a_key():
    """YAML keeps the last of two equal keys: a repeated section would drop the keys of the first."""

    def unique_keys(loader, node, deep=False):
        keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
        assert len(keys) == len(set(keys)), keys
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    class Strict(yaml.SafeLoader):
        pass

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, unique_keys)
    for name in builtin_names():
        yaml.load(resolve_path(name).read_text(), Loader=Strict)
    assert load("folder128").train.batch_size == 64


def test_save_overwrites_existing_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("garbage: [")
    save(Config(), path)
    assert load(path).to_dict() == Config().to_dict()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


# ----------------------------------------------------------------------------------------- signature


def test_model_signature():
    base = Config()
    sig = base.model_signature()
    assert sig["model"]["ch"] == 64
    assert sig["data"] == {"resolution": 32, "channels": 3, "num_classes": 10}

    changed_ch = apply_overrides(Config(), ["model.ch=32"])
    assert changed_ch.model_signature() != sig
    assert changed_ch.model_signature()["model"]["ch"] == 32

    for override in ("train.g_lr=0.0003", "train.batch_size=8", "data.shuffle_buffer=5", "log.samples_every=9"):
        assert apply_overrides(Config(), [override]).model_signature() == sig, override

    for override in ("data.resolution=64", "data.channels=1", "data.num_classes=3", "model.attention_variant=paper"):
        assert apply_overrides(Config(), [override]).model_signature() != sig, override


def test_every_dataclass_field_is_reachable_by_override():
    """Each key of each section can be set through ``section.key=value`` (no hidden fields)."""
    for section, cls in (("data", DataConfig), ("model", ModelConfig)):
        for f in dataclasses.fields(cls):
            with pytest.raises(ConfigError) as info:
                config_mod._set(Config(), f"{section}.{f.name}", object())
            assert f"{section}.{f.name}" in str(info.value)
