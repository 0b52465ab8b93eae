"""What a run's training cost, kept in the run directory: ``training.json``.

One entry per ``sagan-train`` session (a first start and each resume): the steps it trained, its
wall-clock seconds, the hardware (CPU model and vCPUs, GPU names, TPU), the precision, the forms of the ops
(``model.ops``), the strategy
and replica count, and the TensorFlow version. The chief rewrites the file atomically whenever it
saves a checkpoint, so the record always describes the steps that are on disk. Model cards
(``sagan_tf.serving.model_card``) read it to say how long a generator trained and on what.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from pathlib import Path

import keras

from sagan_tf import files

RECORD_FILE = "training.json"


BF16_FLAGS = (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"))


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """``AMD EPYC (family 25 model 17, AVX512-BF16)``: the model name of Linux ``/proc/cpuinfo`` with
    the family and model numbers (virtual machines often show only a generic name) and the bfloat16
    instructions present, which decide what ``precision: auto`` picks; else what ``platform`` knows."""
    fields: dict[str, str] = {}
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, sep, value = line.partition(":")
            if not sep:
                if fields:  # the first processor's block is read whole
                    break
                continue
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name")
    if not name:
        return platform.processor() or platform.machine()
    details = [f"family {fields['cpu family']} model {fields['model']}"] if "cpu family" in fields and "model" in fields else []
    flags = fields.get("flags", "").split()
    details += [label for flag, label in BF16_FLAGS if flag in flags]
    return f"{name} ({', '.join(details)})" if details else name


def hardware(strategy=None) -> dict:
    """The devices this process trains on: CPU model and usable vCPUs, GPU names, TPU."""
    import tensorflow as tf

    gpus = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        gpus.append(details.get("device_name", gpu.name))
    tpu = isinstance(strategy, tf.distribute.TPUStrategy)
    vcpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "vcpus": vcpus, "gpus": gpus, "tpu": tpu}


def describe_hardware(hw: dict) -> str:
    """``2 vCPUs of an Intel(R) Xeon(R) Processor`` / ``8 x NVIDIA A100-SXM4-40GB``."""
    if hw.get("tpu"):
        return "TPU"
    gpus = hw.get("gpus") or []
    if gpus:
        names = sorted(set(gpus))
        return ", ".join(f"{gpus.count(n)} x {n}" for n in names)
    return f"{hw.get('vcpus')} vCPUs, {hw.get('cpu')}"


def read(logdir: str | Path) -> list[dict]:
    """The sessions recorded in ``logdir`` (empty for a run from before the record existed)."""
    path = Path(logdir) / RECORD_FILE
    if not path.exists():
        return []
    try:
        sessions = json.loads(path.read_text())["sessions"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return sessions if isinstance(sessions, list) else []


def totals(sessions: list[dict]) -> dict:
    """Steps and seconds over all sessions, and the distinct hardware and precisions used."""
    return {
        "seconds": sum(s.get("seconds", 0.0) for s in sessions),
        "steps": sum(s.get("end_step", 0) - s.get("start_step", 0) for s in sessions),
        "hardware": list(dict.fromkeys(describe_hardware(s.get("hardware", {})) for s in sessions)),
        "precisions": list(dict.fromkeys(s.get("precision") for s in sessions)),
    }


class TrainingRecord(keras.callbacks.Callback):
    """Appends this session to ``training.json`` and brings it up to date after every checkpoint
    that ``checkpoints`` (a ``checkpointing.PeriodicCheckpoint`` placed before it) has written: the
    record never counts steps that are not on disk (a diverged end is not saved)."""

    always_runs = True

    def __init__(self, logdir: str | Path, checkpoints, session: dict):
        super().__init__()
        self.path = Path(logdir) / RECORD_FILE
        self.checkpoints = checkpoints
        self.session = dict(session)
        self.earlier: list[dict] = []
        self.started = 0.0

    def on_train_begin(self, logs=None):
        self.earlier = read(self.path.parent)
        self.started = time.monotonic()
        step = int(self.model.step.numpy())
        self.session.update(
            started=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            start_step=step,
            end_step=step,
            seconds=0.0,
        )

    def on_train_batch_end(self, batch, logs=None):
        self._update()

    def on_train_end(self, logs=None):
        self._update()

    def _update(self) -> None:
        saved = self.checkpoints.last_saved
        if saved is None or saved <= self.session["end_step"]:
            return
        self.session.update(end_step=saved, seconds=round(time.monotonic() - self.started, 1))
        files.write_text(self.path, json.dumps({"sessions": self.earlier + [self.session]}, indent=2) + "\n")


def strategy_name(strategy) -> str:
    """The ``--strategy`` value that builds ``strategy``: default, mirrored, multiworker or tpu."""
    import tensorflow as tf

    for kind, name in ((tf.distribute.TPUStrategy, "tpu"), (tf.distribute.MultiWorkerMirroredStrategy, "multiworker"),
                       (tf.distribute.MirroredStrategy, "mirrored")):
        if isinstance(strategy, kind):
            return name
    return "default"


def session_info(cfg, strategy) -> dict:
    """The parts of a session known before it trains."""
    import tensorflow as tf

    return {
        "hardware": hardware(strategy),
        "precision": cfg.train.precision,
        "ops": cfg.model.ops,
        "strategy": strategy_name(strategy),
        "replicas": strategy.num_replicas_in_sync,
        "batch_size": cfg.train.batch_size,
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
    }
