"""``load_generator`` and ``TrainedGenerator``: one call from a run, an export or a shipped generator
to images; a seed gives the exported ``generate`` signature's image, z gives G's own output, class
names stand for their ids, and every bad input is one ``SaganError`` line."""

import math

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf.data.pixels import to_uint8
from sagan_tf.errors import SaganError
from sagan_tf.serving import sources
from sagan_tf.serving.generators import TrainedGenerator, load_generator
from tests.helpers.exports import fixed_inputs, make_run

FASHION_MNIST = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@pytest.fixture(scope="module")
def exported(conditional_export):
    """(a tiny run, its export's version directory, that SavedModel loaded)."""
    return conditional_export.run, conditional_export.version_dir, tf.saved_model.load(str(conditional_export.version_dir))


@pytest.fixture(scope="module")
def from_run(exported):
    return load_generator(exported[0].logdir)


@pytest.fixture(scope="module")
def from_export(exported):
    return load_generator(exported[1])


def signature_images(loaded, seeds, labels, truncation=None):
    seed, label = tf.constant(seeds, tf.int64), tf.constant(labels, tf.int32)
    if truncation is None:
        return loaded.signatures["generate"](seed=seed, labels=label)["images"].numpy()
    return loaded.signatures["generate_truncated"](seed=seed, labels=label, truncation=tf.constant(truncation))["images"].numpy()


def test_a_seed_gives_the_image_of_the_exported_generate_signature(exported, from_run, from_export):
    _, _, loaded = exported
    seeds, labels = [0, 7, 2**40, -3], [3, 3, 9, 0]
    expected = signature_images(loaded, seeds, labels)
    images = from_export.generate(seeds, labels)
    assert images.dtype == np.uint8 and images.shape == (4, 32, 32, 1)
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(from_run.generate(seeds, labels), expected)  # the run: the same functions, traced
    truncated = signature_images(loaded, seeds, labels, 0.5)
    np.testing.assert_array_equal(from_export.generate(seeds, labels, truncation=0.5), truncated)
    np.testing.assert_array_equal(from_run.generate(seeds, labels, truncation=0.5), truncated)
    assert not np.array_equal(truncated, expected)


def test_z_gives_the_image_of_g_itself_and_the_batch_does_not_matter(exported, from_run, from_export):
    run = exported[0]
    z, labels = fixed_inputs(128, [0, 4, 4, 9, 1])
    keras = to_uint8(run.generator((tf.constant(z), tf.constant(labels)), training=False)).numpy()
    for generator in (from_run, from_export):
        images = generator.generate(z=z, labels=labels)
        assert np.abs(images.astype(int) - keras.astype(int)).max() <= 1 and np.mean(images != keras) < 0.01
        np.testing.assert_array_equal(generator.generate(z=z, labels=labels, batch_size=2), images)


def test_class_names_stand_for_their_ids_and_one_label_is_every_images(from_run):
    seeds = [5, 6, 7]
    by_id = from_run.generate(seeds, [1, 7, 7])
    np.testing.assert_array_equal(from_run.generate(seeds, ["Trouser", "Sneaker", 7]), by_id)
    np.testing.assert_array_equal(from_run.generate(seeds, "Sneaker")[1:], by_id[1:])
    np.testing.assert_array_equal(from_run.generate(seeds, np.array([1, 7, 7], np.int64)), by_id)
    np.testing.assert_array_equal(from_run.generate(5, 1), by_id[:1])  # one seed


def test_what_the_generator_is(exported, from_run, from_export):
    run, version_dir, _ = exported
    for generator in (from_run, from_export):
        assert (generator.resolution, generator.channels, generator.num_classes, generator.z_dim) == (32, 1, 10, 128)
        assert generator.class_names == FASHION_MNIST and generator.name == "generator"
    assert from_run.source == f"{run.logdir} (generator of ckpt-1: latest, step 1)" and from_run.keras_generator is not None
    assert from_export.source == f"{version_dir} (generator of ckpt-1)" and from_export.keras_generator is None
    assert [layer.name for layer in from_run.info.attention] == ["attention_16"]


@pytest.mark.parametrize("call, message", [
    (dict(seeds=[1, 2]), "labels are required: this generator draws 10 classes (ids 0 to 9 or names: T-shirt/top, Trouser,"),
    (dict(seeds=[1, 2], labels=[0, 10]), "labels must be class ids in [0, 10), got 10"),
    (dict(seeds=[1, 2], labels=[0, -1]), "labels must be class ids in [0, 10), got -1"),
    (dict(seeds=[1, 2], labels=["Sneaker", "Lily"]), "label 'Lily' is not a class name (one of T-shirt/top,"),
    (dict(seeds=[1, 2], labels=[0.5, 1]), "labels must be class ids or class names, got 0.5"),
    (dict(seeds=[1, 2, 3], labels=[0, 1]), "labels has 2 entries for 3 images: give one label per image, or one for all"),
    (dict(seeds=[1.5], labels=0), "seeds must be integers in [-2**63, 2**63), got [1.5]"),
    (dict(seeds=[2**64], labels=0), "seeds must be integers in [-2**63, 2**63), got [18446744073709551616]"),
    (dict(seeds=[[1, 2]], labels=0), "seeds must be one integer or a sequence of them, got an array of shape (1, 2)"),
    (dict(labels=0), "generate takes seeds or z: exactly one of them"),
    (dict(seeds=[1], z=np.zeros((1, 128)), labels=0), "generate takes seeds or z: exactly one of them"),
    (dict(z=np.zeros((1, 64)), labels=0), "z must have shape (batch, 128), got (1, 64)"),
    (dict(z=np.full((1, 128), np.nan), labels=0), "z must be finite (no NaN or inf)"),
    (dict(z=np.zeros((1, 128)), labels=0, truncation=0.5), "truncation applies to the z drawn from seeds"),
    (dict(seeds=[1], labels=0, truncation=0), "truncation must be >= 1e-06 (inf: no truncation), got 0"),
    (dict(seeds=[1], labels=0, truncation=math.nan), "truncation must be >= 1e-06 (inf: no truncation), got nan"),
    (dict(seeds=[1], labels=0, truncation="a"), "truncation must be a number (inf: none), got 'a'"),
])
def test_a_bad_input_is_one_line_before_any_image_is_made(from_export, call, message):
    with pytest.raises(SaganError) as raised:
        from_export.generate(**call)
    assert len(str(raised.value).splitlines()) == 1 and str(raised.value).startswith(message), str(raised.value)


def test_an_unconditional_generator_takes_no_labels_or_label_zero(tmp_path):
    run = make_run(tmp_path / "run", ["data.num_classes=0"])
    generator = load_generator(run.logdir, raw=True)
    images = generator.generate(seeds=[3, 4])
    np.testing.assert_array_equal(generator.generate(seeds=[3, 4], labels=0), images)
    assert generator.class_names is None and generator.generate(seeds=[]).shape == (0, 32, 32, 1)
    with pytest.raises(SaganError, match=r"labels must be class ids in \[0, 1\) \(the generator is unconditional\), got 1"):
        generator.generate(seeds=[3], labels=1)


def test_sources_are_told_apart_and_what_only_a_run_takes_is_refused_for_an_export(exported, tmp_path):
    run, version_dir, _ = exported
    assert sources.find(run.logdir) == sources.GeneratorSource("run", run.logdir)
    assert sources.find(str(version_dir.parent)) == sources.GeneratorSource("export", version_dir.parent)
    assert load_generator(version_dir.parent).source.startswith(str(version_dir.parent / "1"))  # the newest version
    assert sources.find(version_dir).kind == "export"
    shipped = sources.find("pretrained:fashion_mnist32")
    assert shipped.kind == "run" and shipped.pretrained == "fashion_mnist32" and sources.find("fashion_mnist32") == shipped
    (tmp_path / "empty").mkdir()
    with pytest.raises(SaganError, match="is neither a training run .no config.yaml. nor an export"):
        sources.find(tmp_path / "empty")
    for option in ({"raw": True}, {"checkpoint": "best"}):
        with pytest.raises(SaganError, match=f"{next(iter(option))} is for runs: the export"):
            load_generator(version_dir, **option)


def test_a_run_generator_is_its_ema_generator_unless_raw_at_the_checkpoint_asked_for(tmp_path):
    from sagan_tf.runs.checkpointing import variables_by_path
    from sagan_tf.training.builders import build_generator
    from tests.helpers.exports import randomize

    run = make_run(tmp_path / "run")  # ckpt-1: G alone
    ema = build_generator(run.cfg, name="generator_ema")
    randomize(ema, seed=1)
    both = tf.train.Checkpoint(generator=variables_by_path(run.generator), generator_ema=variables_by_path(ema))
    tf.train.CheckpointManager(both, str(run.logdir / "checkpoints"), None).save(checkpoint_number=2)
    latest, raw = load_generator(run.logdir), load_generator(run.logdir, raw=True, checkpoint="latest")
    assert (latest.name, raw.name) == ("generator_ema", "generator")
    z, labels = fixed_inputs(128, [0, 1])
    expected = to_uint8(ema((tf.constant(z), tf.constant(labels)), training=False)).numpy()
    assert np.abs(latest.generate(z=z, labels=labels).astype(int) - expected).max() <= 1
    assert not np.array_equal(latest.generate([1, 2], [0, 1]), raw.generate([1, 2], [0, 1]))
    first = load_generator(run.logdir, checkpoint=str(run.logdir / "checkpoints" / "ckpt-1"))
    assert first.name == "generator" and first.source.endswith("(generator of ckpt-1: the checkpoint path given)")
    assert load_generator(run.logdir, checkpoint="1").source.endswith("(generator of ckpt-1: step 1, as asked)")
    with pytest.raises(SaganError, match="has no best checkpoint"):
        load_generator(run.logdir, checkpoint="best")


def test_a_generator_without_serving_default_names_the_missing_signature(from_export):
    signatures = {name: from_export._functions.get(name) for name in ("generate_truncated", "explore")}
    old = TrainedGenerator(from_export.info, signatures)
    assert old.generate([1], [2]).shape == (1, 32, 32, 1)
    with pytest.raises(SaganError, match="has no serving_default signature"):
        old.generate(z=np.zeros((1, 128), np.float32), labels=[2])
