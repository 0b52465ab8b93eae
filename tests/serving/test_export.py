"""SavedModel export: TF Serving layout, signatures, parity in a process without sagan_tf, bad inputs.

Tolerance for SavedModel vs Keras: 1e-5 absolute on ``images_float`` (range [-1, 1]). The SavedModel
runs the same TF ops as Keras inference on the same CPU; only grappler's fusions (oneDNN
conv+bias+relu) may change the summation order, float32 rounding is ~6e-8 per op.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf

from sagan_tf.data.pixels import to_uint8
from sagan_tf.errors import SaganError
from sagan_tf.serving import export as export_lib
from sagan_tf.serving.sources import run_source
from tests.helpers import REPO
from tests.helpers.exports import export_tiny_run, fixed_inputs, make_run, parse_signature_defs, saved_model_cli_show

TOL = 1e-5


@pytest.fixture(scope="module")
def loaded(conditional_export):
    return tf.saved_model.load(str(conditional_export.version_dir))


def keras_images(generator, z, labels):
    return generator((tf.constant(z), tf.constant(labels)), training=False).numpy()


def test_layout_is_tf_serving_version_directory_with_manifest(conditional_export):
    root = conditional_export.version_dir.parent
    assert conditional_export.version_dir.name == "1" and sorted(p.name for p in root.iterdir()) == ["1"]
    files = sorted(str(p.relative_to(conditional_export.version_dir)) for p in conditional_export.version_dir.rglob("*") if p.is_file())
    assert "saved_model.pb" in files and "variables/variables.index" in files
    assert "tflite/generator_float32.tflite" in files and "tflite/generator_float16.tflite" in files
    manifest = json.loads((conditional_export.version_dir / "export.json").read_text())
    assert manifest["model"] == {"resolution": 32, "channels": 1, "num_classes": 10, "labels": [0, 10], "z_dim": 128}
    assert manifest["source"]["checkpoint"].endswith("checkpoints/ckpt-1")
    for info in manifest["files"].values():
        path = conditional_export.version_dir / info["path"]
        if info["path"].endswith(".tflite"):
            assert path.stat().st_size == info["bytes"]
    assert oct(conditional_export.version_dir.stat().st_mode & 0o777) == "0o755"


def test_saved_model_stores_each_weight_once(conditional_export):
    reader = tf.train.load_checkpoint(str(conditional_export.version_dir / "variables" / "variables"))
    stored = sum(int(np.prod(shape)) for name, shape in reader.get_variable_to_shape_map().items()
                 if name != "_CHECKPOINTABLE_OBJECT_GRAPH")
    assert stored == sum(int(np.prod(v.shape)) for v in conditional_export.run.generator.variables)


def test_next_version_skips_non_integer_directories(tmp_path):
    assert export_lib.next_version(tmp_path / "missing") == 1
    for name in ("1", "3", "10a", ".tmp-4-x"):
        (tmp_path / name).mkdir()
    (tmp_path / "7").write_text("a file, not a version")
    assert export_lib.next_version(tmp_path) == 4


FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf

    path, inputs, outputs = sys.argv[1:4]
    data = np.load(inputs)
    result = {}
    # TF2 loader, as a Python client would.
    loaded = tf.saved_model.load(path)
    out = loaded.signatures["serving_default"](z=tf.constant(data["z"]), labels=tf.constant(data["labels"]))
    result["tf2_images"], result["tf2_float"] = out["images"].numpy(), out["images_float"].numpy()
    # generate takes exactly (seed, labels), as it always has.
    out = loaded.signatures["generate"](seed=tf.constant(data["seeds"]), labels=tf.constant(data["labels"]))
    result["tf2_gen_z"], result["tf2_gen_float"] = out["z"].numpy(), out["images_float"].numpy()
    out = loaded.signatures["generate_truncated"](
        seed=tf.constant(data["seeds"]), labels=tf.constant(data["labels"]), truncation=tf.constant(np.inf, tf.float32))
    result["tf2_trunc_inf_z"] = out["z"].numpy()
    # TF1 session loader: restore op + Session.run on the SignatureDef's tensor names, as TF Serving does.
    graph = tf.Graph()
    with graph.as_default():
        sess = tf.compat.v1.Session(graph=graph)
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
    sig = meta.signature_def["serving_default"]
    result["tf1_float"] = sess.run(sig.outputs["images_float"].name,
        {sig.inputs["z"].name: data["z"], sig.inputs["labels"].name: data["labels"]})
    sig = meta.signature_def["generate"]
    result["tf1_gen_z"] = sess.run(sig.outputs["z"].name,
        {sig.inputs["seed"].name: data["seeds"], sig.inputs["labels"].name: data["labels"]})
    sig = meta.signature_def["generate_truncated"]
    result["tf1_trunc_z"] = sess.run(sig.outputs["z"].name, {sig.inputs["seed"].name: data["seeds"],
        sig.inputs["labels"].name: data["labels"], sig.inputs["truncation"].name: np.float32(0.5)})
    assert "sagan_tf" not in sys.modules
    np.savez(outputs, **result)
    """
)


def test_fresh_process_without_sagan_tf_matches_keras(conditional_export, tmp_path):
    run = conditional_export.run
    z, labels = fixed_inputs(128, [0, 3, 9, 9, 5])
    seeds = np.array([0, 1, 2, 3, 2**40], np.int64)
    np.savez(tmp_path / "inputs.npz", z=z, labels=labels, seeds=seeds)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(conditional_export.version_dir), str(tmp_path / "inputs.npz"),
         str(tmp_path / "out.npz")],
        cwd=tmp_path, env=env, check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")

    expected = keras_images(run.generator, z, labels)
    assert np.abs(out["tf2_float"] - expected).max() <= TOL
    assert np.abs(out["tf1_float"] - expected).max() <= TOL
    # uint8: equal except where the float lies within TOL of a rounding boundary.
    diff = np.abs(out["tf2_images"].astype(int) - to_uint8(expected).numpy().astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    assert out["tf2_images"].dtype == np.uint8 and out["tf2_images"].shape == (5, 32, 32, 1)

    # generate: z is Phi^-1(u), u the stateless Philox draw of each seed (independent scipy inverse CDF).
    u = np.stack([
        tf.random.stateless_uniform([128], seed=[int(s), 0], dtype=tf.float64).numpy() for s in seeds
    ]) + 2.0**-53
    z_ref = scipy.special.ndtri(u).astype(np.float32)
    assert np.abs(out["tf2_gen_z"] - z_ref).max() <= 1e-6
    np.testing.assert_array_equal(out["tf1_gen_z"], out["tf2_gen_z"])
    np.testing.assert_array_equal(out["tf2_trunc_inf_z"], out["tf2_gen_z"])  # t = inf is generate's z
    assert np.abs(out["tf1_trunc_z"]).max() <= 0.5
    assert np.abs(out["tf2_gen_float"] - keras_images(run.generator, z_ref, labels)).max() <= TOL


def test_saved_model_cli_shows_both_signatures(conditional_export):
    signatures = parse_signature_defs(saved_model_cli_show(conditional_export.version_dir))
    assert set(signatures) - {"__saved_model_init_op"} == {"serving_default", "generate", "generate_truncated", "explore",
                                                           "mix"}
    image = ("DT_UINT8", "(-1, 32, 32, 1)")
    image_float = ("DT_FLOAT", "(-1, 32, 32, 1)")
    assert signatures["serving_default"] == {
        "inputs": {"z": ("DT_FLOAT", "(-1, 128)"), "labels": ("DT_INT32", "(-1)")},
        "outputs": {"images": image, "images_float": image_float},
        "method": "tensorflow/serving/predict",
    }
    assert signatures["generate"] == {
        "inputs": {"seed": ("DT_INT64", "(-1)"), "labels": ("DT_INT32", "(-1)")},
        "outputs": {"images": image, "images_float": image_float, "z": ("DT_FLOAT", "(-1, 128)")},
        "method": "tensorflow/serving/predict",
    }
    assert signatures["generate_truncated"] == {
        "inputs": {"seed": ("DT_INT64", "(-1)"), "labels": ("DT_INT32", "(-1)"), "truncation": ("DT_FLOAT", "()")},
        "outputs": {"images": image, "images_float": image_float, "z": ("DT_FLOAT", "(-1, 128)")},
        "method": "tensorflow/serving/predict",
    }


def test_no_signature_relies_on_signature_def_defaults(conditional_export):
    """Every input of every signature is required, in every runtime: none has a SignatureDef default."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((conditional_export.version_dir / "saved_model.pb").read_bytes())
    for name in ("serving_default", "generate", "generate_truncated"):
        assert not proto.meta_graphs[0].signature_def[name].defaults, name


def test_generate_is_deterministic_per_seed_and_truncates(loaded, conditional_export):
    def call(seeds, labels, t=None):
        seed, label = tf.constant(seeds, tf.int64), tf.constant(labels, tf.int32)
        if t is None:
            return loaded.signatures["generate"](seed=seed, labels=label)
        return loaded.signatures["generate_truncated"](seed=seed, labels=label, truncation=tf.constant(t, tf.float32))

    batch = call([5, 7, 5], [1, 2, 1])
    alone = call([7], [2])
    np.testing.assert_array_equal(batch["z"][0], batch["z"][2])
    np.testing.assert_array_equal(batch["z"][1], alone["z"][0])
    assert np.abs(batch["images_float"][1] - alone["images_float"][0]).max() <= TOL
    assert np.abs(batch["z"][0] - batch["z"][1]).max() > 0.5

    t = 0.5
    truncated = call([5, 7], [1, 2], t)["z"].numpy()
    u = np.stack([tf.random.stateless_uniform([128], seed=[s, 0], dtype=tf.float64).numpy() for s in (5, 7)])
    reference = scipy.stats.truncnorm.ppf(u + 2.0**-53, -t, t)
    assert np.abs(truncated).max() <= t and np.abs(truncated - reference).max() <= 1e-6
    expected = keras_images(conditional_export.run.generator, truncated, np.array([1, 2], np.int32))
    assert np.abs(call([5, 7], [1, 2], t)["images_float"].numpy() - expected).max() <= TOL


@pytest.mark.parametrize(
    "z_rows, labels, message",
    [
        (2, [0, 10], "labels must be in [0, 10)"),
        (2, [-1, 3], "labels must be in [0, 10)"),  # Keras' Embedding would wrap -1 to class 9
        (3, [0, 1], "labels must have one entry per image"),
        (1, [0, 1], "labels must have one entry per image"),
    ],
)
def test_bad_labels_fail_with_invalid_argument(loaded, z_rows, labels, message):
    z = np.zeros((z_rows, 128), np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message.replace("[", r"\[").replace(")", r"\)")):
        loaded.signatures["serving_default"](z=tf.constant(z), labels=tf.constant(labels, tf.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must"):
        loaded.signatures["generate"](seed=tf.range(z_rows, dtype=tf.int64), labels=tf.constant(labels, tf.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must"):
        loaded.signatures["generate_truncated"](
            seed=tf.range(z_rows, dtype=tf.int64), labels=tf.constant(labels, tf.int32), truncation=tf.constant(1.0))


def test_wrong_dtypes_shapes_and_truncation_fail_with_invalid_argument(loaded):
    serve = loaded.signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="int32"):
        serve(z=tf.zeros([2, 128]), labels=tf.constant([0.0, 1.0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="float"):
        serve(z=tf.zeros([2, 128], tf.float64), labels=tf.constant([0, 1]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"z must have shape \[batch, 128\]"):
        serve(z=tf.zeros([2, 100]), labels=tf.constant([0, 1]))
    for t in (0.0, -1.0, np.nan):
        with pytest.raises(tf.errors.InvalidArgumentError, match="truncation must be > 0"):
            loaded.signatures["generate_truncated"](seed=tf.constant([1], tf.int64), labels=tf.constant([0]),
                                                    truncation=tf.constant(t, tf.float32))


def test_bad_labels_fail_in_the_session_path_tf_serving_uses(conditional_export):
    graph = tf.Graph()
    with graph.as_default():
        sess = tf.compat.v1.Session(graph=graph)
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(conditional_export.version_dir))
    sig = meta.signature_def["generate"]
    feed = {sig.inputs["seed"].name: np.array([1, 2], np.int64), sig.inputs["labels"].name: np.array([4, 12], np.int32)}
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be in \[0, 10\)"):
        sess.run(sig.outputs["images"].name, feed)


@pytest.fixture(scope="module")
def unconditional(tmp_path_factory):
    return export_tiny_run(tmp_path_factory.mktemp("export-unconditional"), ["data.num_classes=0"], ("saved_model", "tflite"))


def test_unconditional_run_exports_and_accepts_only_label_zero(unconditional):
    from sagan_tf.serving.tflite import TFLiteGenerator

    loaded = tf.saved_model.load(str(unconditional.version_dir))
    z, labels = fixed_inputs(128, [0, 0, 0])
    expected = keras_images(unconditional.run.generator, z, labels)
    out = loaded.signatures["serving_default"](z=tf.constant(z), labels=tf.constant(labels))
    assert np.abs(out["images_float"].numpy() - expected).max() <= TOL
    tflite_out = TFLiteGenerator(unconditional.version_dir / "tflite" / "generator_float32.tflite")(z, labels)
    assert np.abs(tflite_out["images_float"] - expected).max() <= 1e-5
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must be in \[0, 1\)"):
        loaded.signatures["serving_default"](z=tf.constant(z), labels=tf.constant([0, 1, 0]))
    assert unconditional.manifest["model"]["labels"] == [0, 1]


def test_two_exports_at_once_publish_two_complete_versions(conditional_export, tmp_path):
    """Started together, both see no version yet; they publish one after the other as 1 and 2."""
    out = tmp_path / "models" / "sagan"
    code = "import sys, sagan_tf; print(sagan_tf.export(sys.argv[1], sys.argv[2], formats=['saved_model']))"
    cmd = [sys.executable, "-c", code, str(conditional_export.run.logdir), str(out)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    procs = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outputs]
    assert sorted(stdout.strip() for stdout, _ in outputs) == [str(out / "1"), str(out / "2")]
    assert sorted(p.name for p in out.iterdir()) == ["1", "2"]  # no staging directory, no lock file left
    for version in (1, 2):
        manifest = json.loads((out / str(version) / "export.json").read_text())
        assert manifest["version"] == version
        assert manifest["max_abs_error_vs_keras"]["saved_model"] <= TOL
        assert tf.saved_model.contains_saved_model(str(out / str(version)))


def test_publishing_a_version_another_export_took_is_refused_and_keeps_its_files(tmp_path):
    out = tmp_path / "models"
    (out / "3").mkdir(parents=True)
    staging = out / ".tmp-3-x"
    staging.mkdir()
    (staging / "saved_model.pb").write_text("mine")
    with pytest.raises(export_lib.ExportError, match="3 already exists"):
        export_lib.publish(staging, out, 3, {"version": None})
    assert (staging / "saved_model.pb").read_text() == "mine" and list((out / "3").iterdir()) == []
    assert sorted(p.name for p in out.iterdir()) == [".tmp-3-x", "3"]
    target, manifest = export_lib.publish(staging, out, None, {"version": None, "files": {}})
    assert target == out / "4" and manifest == {"version": 4, "files": {}}
    assert json.loads((target / "export.json").read_text()) == manifest
    assert sorted(p.name for p in out.iterdir()) == ["3", "4"]


def test_user_errors_are_one_line_and_touch_nothing(tmp_path):
    run = make_run(tmp_path / "run")
    out = tmp_path / "models"
    (out / "1").mkdir(parents=True)
    (out / "1" / "saved_model.pb").write_text("an earlier export")
    empty = tmp_path / "empty_run"
    empty.mkdir()
    (empty / "config.yaml").write_text((run.logdir / "config.yaml").read_text())
    cases = [
        ((tmp_path / "nope", out), {}, "is not a training run (no config.yaml)"),
        ((empty, out), {}, "has no checkpoint yet"),
        ((run.logdir, out), {"version": 1}, "1 already exists; pass another --version"),
        ((run.logdir, out), {"version": 0}, "--version must be a positive integer"),
        ((run.logdir, out), {"formats": "saved_model,onnx"}, "unknown export format onnx (known: saved_model, tflite, tflite_dynamic_range)"),
        ((run.logdir, out / "1" / "saved_model.pb"), {}, "exists and is not a directory"),
        ((out, tmp_path / "again"), {}, "is an export already"),
    ]
    for args, options, message in cases:
        source = run_source(args[0]) if args[0] != out else args[0]
        with pytest.raises(SaganError) as raised:
            export_lib.export(source, args[1], **options)
        assert len(str(raised.value).splitlines()) == 1 and message in str(raised.value), (args, raised.value)
    assert sorted(p.name for p in out.iterdir()) == ["1"]
    assert (out / "1" / "saved_model.pb").read_text() == "an earlier export"


def test_a_failure_midway_leaves_no_version_directory(tmp_path, monkeypatch):
    from sagan_tf.serving import signatures as serving

    run = make_run(tmp_path / "run")

    def broken_write(generator, num_classes, z_dim, path):
        os.makedirs(path, exist_ok=True)
        (path / "saved_model.pb").write_text("half written")
        raise RuntimeError("disk full")

    monkeypatch.setattr(serving, "write_saved_model", broken_write)
    out = tmp_path / "models"
    with pytest.raises(RuntimeError, match="disk full"):
        export_lib.export_run(run.logdir, out)
    assert list(out.iterdir()) == []


def test_export_refuses_a_model_that_does_not_match_keras(conditional_export):
    z, labels = export_lib.check_inputs(10, 128)
    expected = keras_images(conditional_export.run.generator, z, labels)
    assert export_lib._verify_saved_model(conditional_export.version_dir, z, labels, expected) <= TOL
    with pytest.raises(export_lib.ExportError, match="the SavedModel differs from the Keras generator by 0.001"):
        export_lib._verify_saved_model(conditional_export.version_dir, z, labels, expected + 1e-3)


def test_the_ema_generator_is_exported_when_the_run_has_one(tmp_path):
    """A checkpoint holding G and its EMA shadow exports the EMA; the manifest says so."""
    from sagan_tf.runs.checkpointing import variables_by_path
    from sagan_tf.training.builders import build_generator
    from tests.helpers.exports import randomize

    run = make_run(tmp_path / "run", seed=3)
    ema = build_generator(run.cfg, name="generator_ema")
    randomize(ema, seed=4)
    tf.train.Checkpoint(
        generator=variables_by_path(run.generator), generator_ema=variables_by_path(ema)
    ).save(str(run.logdir / "checkpoints" / "ckpt"))
    version_dir, manifest = export_lib.export_run(run.logdir, tmp_path / "models", formats=("saved_model",))
    assert manifest["source"]["generator"] == "generator_ema"
    assert manifest["source"]["checkpoint"] == tf.train.latest_checkpoint(str(run.logdir / "checkpoints"))
    z, labels = fixed_inputs(run.cfg.model.z_dim, [1, 4, 7])
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"](
        z=tf.constant(z), labels=tf.constant(labels)
    )["images_float"].numpy()
    np.testing.assert_allclose(served, keras_images(ema, z, labels), atol=TOL)
    assert np.abs(served - keras_images(run.generator, z, labels)).max() > 0.1  # not the raw G


def test_a_run_trained_in_mixed_bfloat16_exports_its_weights_as_a_float32_generator(tmp_path):
    """The generator of a bfloat16 run is rebuilt in float32 for export (and for sampling and
    metrics): the served images are the float32 function of the run's float32 weights."""
    from sagan_tf.runs.run_dir import load_generator
    from sagan_tf.training.builders import build_generator

    run = make_run(tmp_path / "run", ["train.precision=mixed_bfloat16"], seed=5)
    assert run.generator.compute_dtype == "bfloat16"
    loaded, cfg = load_generator(run.logdir)
    assert loaded.compute_dtype == "float32" and cfg.train.precision == "mixed_bfloat16"
    float32 = build_generator(make_run(tmp_path / "float32", seed=5).cfg)
    for a, b in zip(run.generator.variables, float32.variables, strict=True):
        b.assign(a.numpy())
    version_dir, _ = export_lib.export_run(run.logdir, tmp_path / "models", formats=("saved_model",))
    z, labels = fixed_inputs(run.cfg.model.z_dim, [0, 3, 9])
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"](
        z=tf.constant(z), labels=tf.constant(labels)
    )["images_float"].numpy()
    np.testing.assert_allclose(served, keras_images(float32, z, labels), atol=TOL)
    assert np.abs(served - keras_images(run.generator, z, labels)).max() > 1e-3  # not the bfloat16 function
