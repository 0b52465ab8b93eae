"""``export/client.py`` against the real conditional_export SavedModel.

TF Serving's model server (``tensorflow_model_server``) is not a Python package, so the tests cannot
start it. What stands in for it here is a TEST DOUBLE,
``SessionPredictDouble``: it loads the SavedModel with the TF1 session loader and runs a predict
request the way TF Serving's ``predict_util.cc`` does (signature lookup, the request/signature input
count check with SignatureDef defaults, exact dtype match for gRPC tensors, ``Session::Run`` on the
SignatureDef's tensor names, ``output_filter``). It is not TF Serving: it checks that the client
builds requests the real signature accepts and parses responses in TF Serving's formats. Two thin
network wrappers around it (an HTTP server and a gRPC ``PredictionService`` server on 127.0.0.1)
let the client's command line run end to end.
"""

import importlib.util
import json
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from sagan_tf.data.pixels import to_uint8
from sagan_tf.images import make_grid
from tests.helpers import REPO

spec = importlib.util.spec_from_file_location("serving_client", REPO / "export" / "client.py")
client = importlib.util.module_from_spec(spec)
spec.loader.exec_module(client)


class SessionPredictDouble:
    """TEST DOUBLE of TF Serving's predict path over a SavedModel (see the module docstring)."""

    def __init__(self, path):
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.session = tf.compat.v1.Session(graph=self.graph)
            self.meta = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], str(path))

    def signature(self, name):
        if name not in self.meta.signature_def:
            raise KeyError(f'Serving signature key "{name}" not found.')
        return self.meta.signature_def[name]

    def run(self, signature_name, inputs, output_filter=()):
        sig = self.signature(signature_name or "serving_default")
        missing = set(sig.inputs) - set(inputs) - set(sig.defaults)
        extra = set(inputs) - set(sig.inputs)
        if missing or extra:
            raise ValueError(f"input size does not match signature: missing {sorted(missing)}, extra {sorted(extra)}")
        for name, value in inputs.items():
            if value.dtype != tf.as_dtype(sig.inputs[name].dtype).as_numpy_dtype:
                raise ValueError(f"input {name} is {value.dtype}, the signature expects {sig.inputs[name].dtype}")
        names = list(output_filter) or list(sig.outputs)
        feed = {sig.inputs[name].name: value for name, value in inputs.items()}
        values = self.session.run([sig.outputs[name].name for name in names], feed)
        return dict(zip(names, values, strict=True))

    def json_inputs(self, signature_name, body_inputs):
        """JSON values -> arrays of the signature's dtypes, refusing lossy conversions (as TF Serving)."""
        sig = self.signature(signature_name)
        out = {}
        for name, value in body_inputs.items():
            dtype = tf.as_dtype(sig.inputs[name].dtype).as_numpy_dtype
            array = np.asarray(value)
            if np.issubdtype(dtype, np.integer) and not np.issubdtype(array.dtype, np.integer):
                raise ValueError(f"input {name}: JSON value {value} is not of type {np.dtype(dtype).name}")
            out[name] = array.astype(dtype)
        return out


@pytest.fixture(scope="module")
def server(conditional_export):
    return SessionPredictDouble(conditional_export.version_dir)


def expected_images(conditional_export, z, labels):
    return to_uint8(conditional_export.run.generator((tf.constant(z), tf.constant(labels)), training=False)).numpy()


def assert_images_close(images, expected):
    """uint8 images from the SavedModel and Keras: equal up to rounding at a grey-level boundary."""
    diff = np.abs(images.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_generate_inputs_and_rest_body():
    inputs = client.generate_inputs([1, 7], n=3, seed=10, truncation=0.5)
    np.testing.assert_array_equal(inputs["seed"], [10, 11, 12, 13, 14, 15])
    np.testing.assert_array_equal(inputs["labels"], [1, 1, 1, 7, 7, 7])
    assert inputs["seed"].dtype == np.int64 and inputs["labels"].dtype == np.int32
    assert client.rest_request(inputs) == {
        "signature_name": "generate_truncated",
        "inputs": {"seed": [10, 11, 12, 13, 14, 15], "labels": [1, 1, 1, 7, 7, 7], "truncation": 0.5},
    }
    assert client.rest_request(client.generate_inputs([1], 1, 0))["signature_name"] == "generate"
    assert client.rest_url("tfs", 8501, "sagan") == "http://tfs:8501/v1/models/sagan:predict"
    assert client.rest_url("tfs", 9, "m", 3) == "http://tfs:9/v1/models/m/versions/3:predict"
    assert "truncation" not in client.generate_inputs([0], 1, 0)


def test_rest_request_runs_against_the_real_signature(conditional_export, server):
    inputs = client.generate_inputs([2, 9], n=2, seed=5)
    body = json.loads(json.dumps(client.rest_request(inputs)))  # what travels on the wire
    assert set(body["inputs"]) == set(server.signature("generate").inputs)
    outputs = server.run(body["signature_name"], server.json_inputs(body["signature_name"], body["inputs"]))
    response = json.loads(json.dumps({"outputs": {name: value.tolist() for name, value in outputs.items()}}))
    images = client.parse_rest_response(response)
    assert images.dtype == np.uint8 and images.shape == (4, 32, 32, 1)
    assert_images_close(images, expected_images(conditional_export, np.asarray(response["outputs"]["z"], np.float32),
                                                np.array([2, 2, 9, 9], np.int32)))


def test_grpc_request_matches_the_signature_protos(conditional_export, server):
    inputs = client.generate_inputs([4], n=3, seed=0, truncation=1.5)
    request = predict_pb2.PredictRequest.FromString(
        client.grpc_request("sagan", inputs, version=7).SerializeToString())
    assert (request.model_spec.name, request.model_spec.signature_name, request.model_spec.version.value) == (
        "sagan", "generate_truncated", 7)
    assert list(request.output_filter) == ["images"]
    sig = server.signature("generate_truncated")
    assert set(request.inputs) == set(sig.inputs)
    for name, proto in request.inputs.items():
        assert proto.dtype == sig.inputs[name].dtype, name
    assert [d.size for d in request.inputs["seed"].tensor_shape.dim] == [3]
    assert not request.inputs["truncation"].tensor_shape.dim  # a scalar, as the signature's shape ()

    outputs = server.run(request.model_spec.signature_name,
                         {k: tf.make_ndarray(v) for k, v in request.inputs.items()}, request.output_filter)
    response = predict_pb2.PredictResponse()
    for name, value in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
    images = client.parse_grpc_response(predict_pb2.PredictResponse.FromString(response.SerializeToString()))
    z = server.run("generate_truncated", {k: tf.make_ndarray(v) for k, v in request.inputs.items()}, ["z"])["z"]
    assert np.abs(z).max() <= 1.5
    assert_images_close(images, expected_images(conditional_export, z, np.array([4, 4, 4], np.int32)))


@pytest.mark.parametrize("name", ["generate.json", "generate_truncated.json", "serving_default.json"])
def test_example_request_bodies_fit_the_signature(server, name):
    body = json.loads((REPO / "export" / "requests" / name).read_text())
    outputs = server.run(body["signature_name"], server.json_inputs(body["signature_name"], body["inputs"]))
    batch = len(body["inputs"]["labels"])
    assert outputs["images"].shape == (batch, 32, 32, 1) and outputs["images"].dtype == np.uint8


# Network wrappers of the test double, so that the client's command line runs end to end.


class RestDoubleHandler(BaseHTTPRequestHandler):
    double: SessionPredictDouble = None
    path_pattern = re.compile(r"^/v1/models/(\w+)(?:/versions/(\d+))?:predict$")

    def do_POST(self):
        match = self.path_pattern.match(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not match or match.group(1) != "sagan":
            return self.reply(404, {"error": f"Servable not found for request: {self.path}"})
        try:
            name = body.get("signature_name", "serving_default")
            outputs = self.double.run(name, self.double.json_inputs(name, body["inputs"]))
        except (ValueError, KeyError, tf.errors.OpError) as e:
            return self.reply(400, {"error": getattr(e, "message", str(e))})
        self.reply(200, {"outputs": {k: v.tolist() for k, v in outputs.items()}})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class GrpcPredictDouble(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, double):
        self.double = double

    def Predict(self, request, context):
        if request.model_spec.name != "sagan":
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {request.model_spec.name}")
        try:
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            outputs = self.double.run(request.model_spec.signature_name, inputs, request.output_filter)
        except (ValueError, KeyError, tf.errors.OpError) as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, getattr(e, "message", str(e)))
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response


@pytest.fixture(scope="module")
def network_doubles(server):
    handler = type("Handler", (RestDoubleHandler,), {"double": server})
    http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    rpc = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(GrpcPredictDouble(server), rpc)
    grpc_port = rpc.add_insecure_port("127.0.0.1:0")
    rpc.start()
    yield {"rest": http.server_address[1], "grpc": grpc_port}
    http.shutdown()
    http.server_close()
    rpc.stop(None)


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_client_command_line_writes_the_grid(conditional_export, server, network_doubles, protocol, tmp_path, capsys):
    out = tmp_path / "grid.png"
    code = client.main(["--host", "127.0.0.1", "--port", str(network_doubles[protocol]), "--protocol", protocol,
                        "--labels", "1,2,3", "--n", "4", "--seed", "100", "--truncation", "2", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    grid = np.asarray(Image.open(out))
    seeds = np.arange(100, 112, dtype=np.int64)
    labels = np.repeat(np.array([1, 2, 3], np.int32), 4)
    z = server.run("generate_truncated", {"seed": seeds, "labels": labels, "truncation": np.float32(2)}, ["z"])["z"]
    expected = make_grid(expected_images(conditional_export, z, labels), cols=4)[..., 0]
    assert grid.shape == (3 * 34 + 2, 4 * 34 + 2) == expected.shape
    assert np.abs(grid.astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_client_reports_server_and_connection_errors_in_one_line(network_doubles, protocol, tmp_path, capsys):
    args = ["--host", "127.0.0.1", "--protocol", protocol, "--out", str(tmp_path / "grid.png"), "--timeout", "20"]
    assert client.main([*args, "--port", str(network_doubles[protocol]), "--labels", "1,12"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: server: ") and "labels must be in [0, 10)" in err[0], err
    assert client.main([*args, "--port", str(network_doubles[protocol]), "--labels", "1", "--model", "gan"]) == 2
    assert "Servable not found" in capsys.readouterr().err
    with socket_without_server() as port:
        assert client.main([*args, "--port", str(port), "--labels", "1", "--timeout", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot reach"), err
    assert client.main([*args, "--labels", "1,x"]) == 2
    assert "--labels must be comma-separated integers" in capsys.readouterr().err
    assert not (tmp_path / "grid.png").exists()


class socket_without_server:
    """A local port that was bound and released: nothing listens there."""

    def __enter__(self):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc):
        return False


def test_models_config_is_a_model_server_config_for_the_client_default():
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    text = (REPO / "export" / "models.config").read_text()
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == (client.DEFAULT_MODEL, "/models/sagan", "tensorflow")
    assert model.model_version_policy.latest.num_versions == 2
