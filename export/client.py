"""Ask a TF Serving model server for SAGAN samples and save them as one PNG grid.

    python export/client.py --host localhost --labels 1,2,3 --out grid.png            # REST, port 8501
    python export/client.py --host localhost --protocol grpc --labels 1,2,3 --out grid.png  # gRPC, 8500

One row per label, ``--n`` images per row, from the ``generate`` signature: image i of the grid has
seed ``--seed + i``, so the same command always draws the same grid from the same model version.
``--truncation T`` asks ``generate_truncated`` instead, which draws z from N(0, 1) truncated to
[-T, T] (higher fidelity, less variety).

REST needs only numpy and Pillow (the request is JSON, TF Serving's columnar "inputs" format).
gRPC needs ``grpcio`` and ``tensorflow-serving-api`` (which brings TensorFlow). The client does not
import sagan_tf: copy this file to any machine that can reach the server.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request

import numpy as np

SIGNATURE = "generate"
TRUNCATED_SIGNATURE = "generate_truncated"
DEFAULT_MODEL = "sagan"  # the name in export/models.config
DEFAULT_PORTS = {"rest": 8501, "grpc": 8500}
GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a 128x128 RGB grid of 100 images is ~5 MB


class ClientError(Exception):
    """A problem reported as one line: bad arguments, an unreachable server, a server error."""


def parse_labels(text: str) -> list[int]:
    try:
        labels = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ClientError(f"--labels must be comma-separated integers, got {text!r}") from None
    if not labels:
        raise ClientError("--labels is empty")
    return labels


def generate_inputs(labels: list[int], n: int, seed: int, truncation: float | None = None) -> dict:
    """Inputs of ``generate`` (of ``generate_truncated`` with a truncation): ``n`` seeds per label,
    row-major."""
    if n <= 0:
        raise ClientError(f"--n must be positive, got {n}")
    inputs = {
        "seed": seed + np.arange(len(labels) * n, dtype=np.int64),
        "labels": np.repeat(np.asarray(labels, np.int32), n),
    }
    if truncation is not None:
        inputs["truncation"] = np.float32(truncation)
    return inputs


def signature_of(inputs: dict) -> str:
    """The signature that takes exactly these inputs."""
    return TRUNCATED_SIGNATURE if "truncation" in inputs else SIGNATURE


# REST: POST /v1/models/<model>[/versions/<v>]:predict with {"signature_name", "inputs": {...}}.


def rest_url(host: str, port: int, model: str, version: int | None = None) -> str:
    version_part = f"/versions/{version}" if version is not None else ""
    return f"http://{host}:{port}/v1/models/{model}{version_part}:predict"


def rest_request(inputs: dict) -> dict:
    body = {name: np.asarray(v).tolist() for name, v in inputs.items()}
    return {"signature_name": signature_of(inputs), "inputs": body}


def parse_rest_response(body: dict, output: str = "images") -> np.ndarray:
    """The uint8 images of a columnar-format predict response (``{"outputs": {name: ...}}``)."""
    if "error" in body:
        raise ClientError(f"server: {body['error']}")
    outputs = body.get("outputs")
    if isinstance(outputs, dict):
        outputs = outputs.get(output)
    if outputs is None:
        raise ClientError(f"the response has no {output!r} output (keys: {sorted(body)})")
    return np.asarray(outputs, dtype=np.uint8)


def predict_rest(url: str, body: dict, timeout: float) -> dict:
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as e:
        text = e.read().decode(errors="replace")
        try:
            message = json.loads(text).get("error", text)
        except ValueError:
            message = text
        raise ClientError(f"server: HTTP {e.code}: {_first_line(message)}") from None
    except (urllib.error.URLError, OSError) as e:
        raise ClientError(f"cannot reach {url}: {getattr(e, 'reason', e)}") from None


# gRPC: tensorflow.serving.PredictionService/Predict with a PredictRequest.


def grpc_request(model: str, inputs: dict, version: int | None = None, outputs: tuple[str, ...] = ("images",)):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature_of(inputs)
    if version is not None:
        request.model_spec.version.value = version
    for name, value in inputs.items():
        value = np.asarray(value)
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=tf.as_dtype(value.dtype)))
    request.output_filter.extend(outputs)
    return request


def parse_grpc_response(response, output: str = "images") -> np.ndarray:
    import tensorflow as tf

    if output not in response.outputs:
        raise ClientError(f"the response has no {output!r} output (has {sorted(response.outputs)})")
    return tf.make_ndarray(response.outputs[output])


def predict_grpc(target: str, request, timeout: float):
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    options = [("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES)]
    with grpc.insecure_channel(target, options=options) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            return stub.Predict(request, timeout=timeout)
        except grpc.RpcError as e:
            code = e.code().name if e.code() else "UNKNOWN"
            if code in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                raise ClientError(f"cannot reach {target}: {code}: {_first_line(e.details())}") from None
            raise ClientError(f"server: {code}: {_first_line(e.details())}") from None


def _first_line(text) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    # TF's InvalidArgument messages start with "Graph execution error:"; the reason is the assertion.
    for line in lines:
        if line.startswith("assertion failed:"):
            return line
    return lines[0] if lines else ""


def image_grid(images: np.ndarray, cols: int, pad: int = 2) -> np.ndarray:
    """(N, H, W, C) uint8, N a multiple of ``cols`` -> one image, ``pad`` black pixels around each."""
    n, h, w, c = images.shape
    padded = np.pad(images, ((0, 0), (pad, 0), (pad, 0), (0, 0)))
    rows = padded.reshape(n // cols, cols, h + pad, w + pad, c).transpose(0, 2, 1, 3, 4)
    grid = rows.reshape(n // cols * (h + pad), cols * (w + pad), c)
    return np.pad(grid, ((0, pad), (0, pad), (0, 0)))


def write_png(path: str, image: np.ndarray) -> None:
    """Writes an (H, W, 1|3) uint8 image, atomically (temp file + rename)."""
    import os

    from PIL import Image

    tmp = f"{path}.{os.getpid()}.tmp"
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(tmp, format="PNG")
    os.replace(tmp, path)


def sample_grid(args) -> np.ndarray:
    labels = parse_labels(args.labels)
    inputs = generate_inputs(labels, args.n, args.seed, args.truncation)
    port = args.port or DEFAULT_PORTS[args.protocol]
    if args.protocol == "rest":
        url = rest_url(args.host, port, args.model, args.version)
        images = parse_rest_response(predict_rest(url, rest_request(inputs), args.timeout))
    else:
        request = grpc_request(args.model, inputs, version=args.version)
        images = parse_grpc_response(predict_grpc(f"{args.host}:{port}", request, args.timeout))
    if images.ndim != 4 or images.shape[0] != len(labels) * args.n:
        raise ClientError(f"expected {len(labels) * args.n} images, the server sent shape {images.shape}")
    return image_grid(images, args.n)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, help="default: 8501 for rest, 8500 for grpc")
    p.add_argument("--protocol", choices=sorted(DEFAULT_PORTS), default="rest")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model name in the server's config (default: %(default)s)")
    p.add_argument("--version", type=int, help="model version (default: the server's latest)")
    p.add_argument("--labels", required=True, help="comma-separated class ids, one grid row each")
    p.add_argument("--n", type=int, default=8, help="images per row")
    p.add_argument("--seed", type=int, default=0, help="seed of the first image; image i uses seed + i")
    p.add_argument("--truncation", type=float, help="truncate z to [-T, T] (default: no truncation)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds")
    p.add_argument("--out", required=True, help="PNG file to write")
    args = p.parse_args(argv)
    try:
        grid = sample_grid(args)
        write_png(args.out, grid)
    except ClientError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(parse_labels(args.labels))} rows x {args.n}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
