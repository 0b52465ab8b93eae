"""sagan-explore's command line: it serves an export, a run or a shipped generator, prints its URL,
stops on Ctrl+C, applies its host and limit flags, and turns every mistake into one ``error: ...``
line and exit status 2."""

import json
import os
import socket
import sys
import urllib.parse

import numpy as np
import pytest
import tensorflow as tf

from sagan_tf import pretrained
from sagan_tf.cli import explore as cli
from tests.helpers import REPO
from tests.helpers.cli import offline_env
from tests.helpers.explore import command_serving, decode_png, get, get_json, get_with_headers, serving


def test_python_m_serves_the_newest_version_prints_its_url_and_stops_on_ctrl_c(explore_export, explore_reference):
    args = [sys.executable, "-m", "sagan_tf.cli.explore", "--model", str(explore_export.version_dir.parent), "--port", "0"]
    with command_serving(args, REPO, dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")) as (url, _):
        info = get_json(url + "api/info")
        assert str(explore_export.version_dir) in info["source"] and len(info["attention"]) == 2
        status, body, _ = get(url + "api/image.png?seed=3&label=4")
        expected, _ = explore_reference.generate([3], [4])
        assert status == 200
        np.testing.assert_array_equal(decode_png(body), expected[0])


def test_a_run_directory_is_served_through_the_same_functions_as_its_export(explore_export, explore_reference):
    from sagan_tf.serving.generators import load_run

    generator = load_run(explore_export.run.logdir)
    assert generator.info.class_names[0] == "T-shirt/top"
    assert [a.name for a in generator.info.attention] == ["attention_8", "attention_16"]
    with serving(generator) as url:
        data = get_json(url + "api/grid?label=2&seed=7&count=4&truncation=0.9")
        attention = get_json(url + "api/attention?seed=7&label=2&x=9&y=30")
    expected, _ = explore_reference.generate(range(7, 11), [2] * 4, 0.9)
    shown = np.stack([decode_png(item["png"]) for item in data["rows"][0]["images"]])
    np.testing.assert_array_equal(shown, expected)
    out = explore_reference.explore(explore_reference.generate([7], [2])[1], explore_reference.one_hot([2]))
    for layer in attention["layers"]:
        np.testing.assert_allclose(layer["row"], out[layer["name"]][0, layer["query_row"]], atol=1e-6)


def run_main(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    return exit_info.value.code, errors


def write_old_export(path):
    """A version directory with only serving_default, as an export without ``explore`` would be."""
    module = tf.Module()
    module.f = tf.function(lambda z: {"images": z}, input_signature=[tf.TensorSpec([None, 4], tf.float32, name="z")])
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.f})
    (path / "export.json").write_text(json.dumps({"model": {"resolution": 32, "channels": 1, "num_classes": 10, "z_dim": 4}}))


def test_user_errors_are_one_line(explore_export, tmp_path, capsys):
    base = explore_export.version_dir.parent
    (tmp_path / "empty").mkdir()
    write_old_export(tmp_path / "old" / "1")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    cases = [
        (["--model", str(tmp_path / "nope")], "is not a directory"),
        (["--model", str(tmp_path / "empty")], "has no exported version"),
        (["--model", str(base), "--version", "7"], "has no version 7 (has 1)"),
        (["--model", str(base), "--version", "0"], "--version must be positive"),
        (["--logdir", str(explore_export.run.logdir), "--version", "1"], "--version selects an export version"),
        (["--model", str(base), "--raw"], "--raw selects the trained G of a run"),
        (["--model", str(base), "--port", "70000"], "--port must be in [0, 65535]"),
        (["--model", str(base), "--port", str(port)], f"cannot listen on 127.0.0.1:{port}"),
        (["--model", str(tmp_path / "old")], "has no generate_truncated or explore signature"),
        (["--logdir", str(tmp_path / "empty")], "is not a training run"),
        (["--model", str(base), "--logdir", str(explore_export.run.logdir)], "not allowed with argument"),
        ([], "one of the arguments --model --logdir --pretrained is required"),
        (["--pretrained", "nope"], "no pretrained generator 'nope'"),
        (["--pretrained", "x", "--raw"], "--raw selects the trained G of a run: it goes with --logdir, not --model or --pretrained"),
    ]
    try:
        for args, message in cases:
            code, errors = run_main(args + (["--port", "0"] if "--port" not in args else []), capsys)
            assert code == 2 and len(errors) == 1 and message in errors[0], (args, errors)
    finally:
        busy.close()


def test_an_unconditional_run_has_one_row_and_only_label_zero(tmp_path):
    from sagan_tf.serving.generators import load_run
    from tests.helpers.exports import make_run

    run = make_run(tmp_path / "run", ["data.num_classes=0"])
    generator = load_run(run.logdir)
    with serving(generator) as url:
        info = get_json(url + "api/info")
        grid = get_json(url + "api/grid?count=2")
        status, body, _ = get(url + "api/grid?label=1")
        attention = get_json(url + "api/attention?seed=1&label=0&x=5&y=5")
    assert info["classes"] == [{"label": 0, "name": "unconditional"}] and len(grid["rows"]) == 1
    assert status == 400 and json.loads(body)["error"] == "label must be in [0, 1) (the model is unconditional), got 1"
    images, maps = run.generator((tf.constant(generator.images_and_z([1], [0])[1]), tf.constant([0])), training=False,
                                 return_attention=True)
    layer = attention["layers"][0]
    np.testing.assert_allclose(layer["row"], maps[layer["name"]].numpy()[0, layer["query_row"]], atol=1e-6)


def host_request(url, host):
    return get_with_headers(url, headers={"Host": host})


def test_the_command_line_applies_allowed_hosts_and_limits(explore_export):
    args = [sys.executable, "-m", "sagan_tf.cli.explore", "--model", str(explore_export.version_dir.parent), "--port", "0",
            "--allowed-host", "box.lan", "--max-images", "5", "--batch", "4", "--wait", "0.5", "--max-connections", "9"]
    with command_serving(args, REPO, dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")) as (url, _):
        port = urllib.parse.urlsplit(url).port
        info = get_json(url + "api/info")
        assert {k: info["limits"][k] for k in ("max_images", "batch", "wait_seconds", "max_connections")} == {
            "max_images": 5, "batch": 4, "wait_seconds": 0.5, "max_connections": 9}
        assert host_request(url + "api/info", f"box.lan:{port}")[0] == 200
        assert host_request(url + "api/info", f"localhost:{port}")[0] == 200
        status, body, _ = host_request(url + "api/info", f"evil.example:{port}")
        assert status == 403 and "box.lan" in json.loads(body)["error"]


def test_bad_host_and_limit_flags_are_one_line_errors_before_the_model_loads(tmp_path, capsys):
    missing = str(tmp_path / "no-such-export")  # never read: the flags are checked first
    cases = [
        (["--allowed-host", "a b"], "--allowed-host takes NAME or NAME:PORT, got 'a b'"),
        (["--allowed-host", "x", "--allow-any-host"], "--allow-any-host answers every host"),
        (["--max-images", "0"], "--max-images must be positive, got 0"),
        (["--batch", "-2"], "--batch must be positive, got -2"),
        (["--max-connections", "0"], "--max-connections must be positive, got 0"),
        (["--wait", "-1"], "--wait must be in [0, 3600] seconds, got -1"),
        (["--wait", "nan"], "--wait must be in [0, 3600] seconds, got nan"),
    ]
    for args, message in cases:
        code, errors = run_main(["--model", missing, "--port", "0", *args], capsys)
        assert code == 2 and len(errors) == 1 and message in errors[0], (args, errors)


def test_a_shipped_generator_is_served_offline(tmp_path):
    args = [sys.executable, "-m", "sagan_tf.cli.explore", "--pretrained", "fashion_mnist32", "--port", "0"]
    with command_serving(args, tmp_path, offline_env(tmp_path)) as (url, _):
        info = get_json(url + "api/info")
        status, body, _ = get(url + "api/image.png?seed=0&label=9")
    assert info["classes"][9] == {"label": 9, "name": "Ankle boot"} and str(pretrained.directory("fashion_mnist32")) in info["source"]
    assert status == 200 and decode_png(body).shape[:2] == (32, 32)
