"""Running the command-line verbs in tests: in a subprocess (``run_cli``) or in-process (``run_main``),
with tiny settings, and reading what they leave behind (TensorBoard events, checkpoints)."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from tests.helpers import REPO

TINY_RUN_STEPS = 6  # the session's tiny trained run (conftest ``tiny_run``)


def run_main(main, argv):
    """Calls a CLI ``main``; returns its exit status (0, or the ``SystemExit`` code)."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


TINY = [
    "model.ch=4",
    "model.z_dim=16",
    "train.batch_size=16",
    "log.scalars_every=5",
    "log.samples_every=10",
    "log.samples_per_class=2",
    "log.checkpoint_every=10",
    "data.shuffle_buffer=256",
    "train.precision=float32",  # the recipe says auto; these tests compare with float32 references
]


# No network for a subprocess: HTTP(S) goes through a proxy on a port where nothing listens (9, discard).
_CLOSED = "http://127.0.0.1:9"
OFFLINE = {"http_proxy": _CLOSED, "https_proxy": _CLOSED, "HTTP_PROXY": _CLOSED, "HTTPS_PROXY": _CLOSED,
           "no_proxy": "", "NO_PROXY": ""}


def offline_env(tmp_path) -> dict:
    """No dataset anywhere and no way out: TFDS and Keras look in empty directories under ``tmp_path``,
    every HTTP(S) request goes to a closed port; ``sagan_tf`` is this repository's, from any directory."""
    return dict(os.environ, TFDS_DATA_DIR=str(tmp_path / "no_data"), KERAS_HOME=str(tmp_path / "keras"),
                TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO), **OFFLINE)


def run_cli(module, *args, tfds_dir=None, timeout=300, env=None):
    """``python -m module args`` from the repository's top, quiet TensorFlow, ``TFDS_DATA_DIR=tfds_dir``."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    if tfds_dir:
        env["TFDS_DATA_DIR"] = tfds_dir
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def sagan_train_arguments(argv: list[str]):
    """``argv`` as ``sagan-train``'s own parser reads it: the flags, ``logdir`` resolved, and the
    ``trainer`` (``sagan_tf.trainer.Trainer``) it would run."""
    from sagan_tf.cli.train import parse_args

    return parse_args(argv)


def read_events(directory):
    """{tag: {step: value}} for scalars and {tag: [(step, encoded picture)]} for images, from TensorBoard
    event files (the config's text summary left out)."""
    scalars, images = {}, {}
    for path in sorted(Path(directory).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                array = tf.make_ndarray(value.tensor)
                if plugin == "images":
                    images.setdefault(value.tag, []).append((event.step, array))
                elif plugin != "text":  # the run's config, at step 0
                    scalars.setdefault(value.tag, {})[event.step] = float(array)
    return scalars, images


# The tiny recipe of the fault tests: a loss at every step, a checkpoint every 5.
TRAIN_SETTINGS = [*TINY, "train.batch_size=8", "log.scalars_every=1", "log.checkpoint_every=5", "data.shuffle_buffer=64"]


def train_args(logdir, steps, *extra):
    return [
        "--config", "configs/fashion_mnist32.yaml", "--logdir", str(logdir), "--steps", str(steps),
        "--deterministic", "--verbose", "0", "--set", *TRAIN_SETTINGS, *extra,
    ]


def checkpoint_tensors(path):
    reader = tf.train.load_checkpoint(path)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if "save_counter" not in k}


def assert_same_training(straight, other, steps):
    """Both run directories end with bitwise equal checkpoints at ``steps`` and logged the same
    losses at every step (each step once); returns the straight run's scalars."""
    a = checkpoint_tensors(str(straight / "checkpoints" / f"ckpt-{steps}"))
    b = checkpoint_tensors(str(other / "checkpoints" / f"ckpt-{steps}"))
    assert sorted(a) == sorted(b) and len(a) > 200
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    la, lb = read_events(straight / "train")[0], read_events(other / "train")[0]
    for tag in ("d_loss", "g_loss"):
        assert sorted(la[tag]) == sorted(lb[tag]) == list(range(1, steps + 1))
        for step in range(1, steps + 1):
            assert la[tag][step] == lb[tag][step], (tag, step)
    return la


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def free_port_base(n, attempts=50):
    """A port P such that P, P+1, ..., P+n-1 are all free on this host (for ``--port-base P``)."""
    for _ in range(attempts):
        (base,) = free_ports(1)
        sockets = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                sockets.append(s)
                s.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no {n} consecutive free ports found")


def slurm_step(rank, tasks=2, node="127.0.0.1"):
    """The ``SLURM_*`` variables ``srun`` gives task ``rank`` of a one-node job step of ``tasks`` tasks."""
    return {
        "SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "0", "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank),
        "SLURM_NODEID": "0", "SLURM_NNODES": "1", "SLURM_NTASKS": str(tasks), "SLURM_STEP_NUM_TASKS": str(tasks),
        "SLURM_STEP_NUM_NODES": "1", "SLURM_STEP_NODELIST": node, "SLURM_JOB_NODELIST": node,
        "SLURM_STEP_TASKS_PER_NODE": str(tasks), "SLURM_TASKS_PER_NODE": str(tasks), "SLURMD_NODENAME": node,
    }
