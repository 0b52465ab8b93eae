"""``--strategy default|mirrored|multiworker|tpu`` -> a ``tf.distribute.Strategy``."""

from __future__ import annotations

import os

import tensorflow as tf

from sagan_tf import cluster
from sagan_tf.cluster import ports
from sagan_tf.config import STRATEGIES
from sagan_tf.errors import ConfigError


def split_cpu(n: int) -> None:
    """Splits the CPU into ``n`` logical devices (must run before TensorFlow initializes devices).

    Lets ``mirrored`` run several replicas on a machine without GPUs, for tests and demos. Nothing
    to do when the CPU is split so already (a second session in the same process).
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or []) == n:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError as e:
        raise ConfigError(f"--virtual-cpus {n}: {e} (split the CPU before TensorFlow starts)") from None


def join_cluster(kind: str, port_base: int | None = None, gpus_per_task: int | None = None) -> None:
    """Makes ``TF_CONFIG`` describe this process's task of a ``kind`` cluster (``cluster.CLUSTERS``),
    before TensorFlow initializes its devices: ``tf_config`` finds it set (and checks that this host
    can listen on the task's port), ``slurm`` writes it from the job step (``sagan_tf.cluster.slurm_tf_config``,
    listening from ``port_base``), ``kubernetes`` from the pod of an Indexed Job
    (``sagan_tf.cluster.kubernetes_tf_config``)."""
    if kind == "tf_config":
        spec = cluster.read_tf_config(os.environ.get("TF_CONFIG"))
        address = cluster.task_address(spec)
        why = ports.problem(int(address.rsplit(":", 1)[1]))
        if why is not None:
            task = spec["task"]
            raise ConfigError(f"TF_CONFIG: this process, task {task['type']} {task['index']}, listens at {address}, "
                              f"{why} on this host")
        return
    if kind == "slurm":
        from sagan_tf.cluster import slurm_tf_config

        slurm_tf_config.write_tf_config(slurm_tf_config.DEFAULT_PORT_BASE if port_base is None else port_base, gpus_per_task)
        return
    if kind == "kubernetes":
        from sagan_tf.cluster import kubernetes_tf_config

        kubernetes_tf_config.write_tf_config()
        return
    raise ConfigError(f"unknown cluster {kind!r} (choose from {', '.join(cluster.CLUSTERS)})")


def make_strategy(name: str, tpu: str | None = None) -> tf.distribute.Strategy:
    """Builds the strategy; ``multiworker`` reads ``TF_CONFIG``, ``tpu`` connects to ``tpu``."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        cluster.read_tf_config(os.environ.get("TF_CONFIG"))
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        if not tpu:
            raise ConfigError("--strategy tpu needs --tpu (a TPU name, grpc:// address or 'local')")
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as e:
            raise ConfigError(f"cannot connect to TPU {tpu!r}: {str(e).strip().splitlines()[0] if str(e).strip() else e}") from None
        return tf.distribute.TPUStrategy(resolver)
    raise ConfigError(f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")


def check_global_batch(global_batch: int, strategy: tf.distribute.Strategy) -> int:
    """Per-replica batch; a global batch the replicas cannot share evenly is a ``ConfigError``."""
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ConfigError(
            f"global batch size {global_batch} is not divisible by the {replicas} replicas of the strategy"
        )
    return global_batch // replicas


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes summaries, checkpoints and exports (``cluster.is_chief_task``)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    return cluster.is_chief_task(resolver.cluster_spec().as_dict(), resolver.task_type, resolver.task_id)


def is_multi_client(strategy: tf.distribute.Strategy) -> bool:
    """True when several processes drive the strategy together (each decides only what all decide)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
