"""Reads what W&B wrote in offline mode: the records of ``run-ID.wandb`` files.

A ``.wandb`` file is a 7-byte header (``:W&B``, magic, version) and then LevelDB's log format:
32 KiB blocks of chunks, each ``crc32c (4) | length (2) | type (1) | data``, type 1 a whole record,
2/3/4 its first, middle and last parts; each record a ``wandb_internal_pb2.Record``. Written here
from that description, so that the tests read the files independently of the client that wrote them.
"""

import json
import struct
from pathlib import Path

BLOCK = 32768
HEADER = 7


def _chunks(data: bytes):
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0 and length == 0:
            pos += left
            continue
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            yield pending + chunk


def records(path: str | Path):
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    for chunk in _chunks(data):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        yield record


def offline_runs(directory: str | Path) -> list[Path]:
    """The ``run-*.wandb`` files under ``directory``, oldest first."""
    return sorted(Path(directory).glob("**/offline-run-*/run-*.wandb"))


def read_runs(directory: str | Path) -> dict:
    """Per W&B run id: its ``history`` (step -> {key: value}), ``config`` ({key: value}, the latest)
    and ``project``, merged over every offline session of that id."""
    runs: dict[str, dict] = {}
    for path in offline_runs(directory):
        run_id = None
        for record in records(path):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                run_id = record.run.run_id
                entry = runs.setdefault(run_id, {"history": {}, "config": {}, "project": record.run.project})
                entry["config"].update({u.key: json.loads(u.value_json) for u in record.run.config.update})
            elif kind == "config":
                runs[run_id]["config"].update({u.key: json.loads(u.value_json) for u in record.config.update})
            elif kind == "history":
                items = {u.key or "/".join(u.nested_key): json.loads(u.value_json) for u in record.history.item}
                runs[run_id]["history"].setdefault(int(items["_step"]), {}).update(items)
    return runs
