"""Mixed precision (``train.precision`` / ``--precision``): dtype policy and loss scaling.

* ``float32``: everything in float32.
* ``mixed_bfloat16``: layers compute in bfloat16 (oneDNN uses the AVX512-BF16 / AMX instructions of
  recent CPUs, TPUs and Ampere+ GPUs run it natively), variables stay float32. bfloat16 has float32's
  exponent range, so gradients do not underflow and no loss scaling is needed.
* ``mixed_float16``: layers compute in float16 (GPUs with tensor cores); both optimizers are wrapped
  in dynamic loss scaling (``loss_scaling.ReplicaSafeLossScaleOptimizer``: the loss is multiplied
  by a scale before differentiation, gradients are divided by it before the update, an update with
  non-finite gradients on any replica is skipped on all of them and the scale halved), which
  ``SAGAN.train_step`` drives through ``optimizer.scale_loss``. A skipped update also leaves the
  network's running state (SN ``u``, BN moving statistics) and G's EMA where they were.

Whatever the policy, the numerically delicate parts stay in float32: spectral norm's power iteration
and ``W / sigma`` (``SpectralNormalization`` reads ``W`` in float32), the attention softmax
(``layers.attention.attend``), batch statistics (Keras ``BatchNormalization`` normalizes float16 and
bfloat16 inputs in float32), the ``tanh`` output of G, D's logits and the hinge losses. G's output
convolution and D's last linear layer and projection still compute in the policy's dtype; their
results are cast to float32 before the ``tanh`` and the losses (so a bfloat16 logit carries
bfloat16's ~3 significant digits: 0.06 at |logit| 20, harmless for the hinge).
The EMA shadow of G is built under the same policy as G.

The policy is applied while the networks are built (``policy_scope``) and stored in every layer, so
it does not leak into other models of the same process.

``auto`` (``resolve``) picks ``mixed_bfloat16`` where the hardware runs bfloat16 fast and float32
elsewhere: GPUs of compute capability 8.0 or higher (the GPUs the strategy computes on: GPU 0 for
the default strategy, all of a mirrored strategy's), TPUs, and CPUs with AMX-BF16 or AVX512-BF16
(oneDNN's bfloat16 kernels). The trainer states the choice in one line and records it per session
in ``training.json``; the run's ``config.yaml`` keeps ``auto``, so a run resumed on other hardware
decides again (and says so when the choice differs from its last session's).

Several processes (``multiworker``) decide ``auto`` once for all of them (``cluster_choice``): every
worker states whether its hardware would pick ``mixed_bfloat16``, the flags are summed over the
replicas of all workers (one small all-reduce) and the cluster trains in ``mixed_bfloat16`` only if
every worker would, else in ``float32`` (correct everywhere; bfloat16 without fast hardware is slow).
All workers then build the same networks, and the step's collectives carry the same dtypes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from sagan_tf.config import PRECISIONS

BF16_CPU_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}


def choose_precision(cpu_flags: set[str], gpu_capabilities: list[tuple[int, int]], tpu: bool) -> tuple[str, str]:
    """``(precision, reason)`` for hardware with these CPU flags (``/proc/cpuinfo``), GPU compute
    capabilities and TPU; the computation runs on the GPUs when there are any."""
    if tpu:
        return "mixed_bfloat16", "TPU"
    if gpu_capabilities:
        slowest = min(gpu_capabilities)
        if slowest >= (8, 0):
            return "mixed_bfloat16", f"GPUs of compute capability >= 8.0 (lowest {slowest[0]}.{slowest[1]})"
        return "float32", f"a GPU of compute capability {slowest[0]}.{slowest[1]} < 8.0 has no fast bfloat16"
    fast = [name for flag, name in BF16_CPU_FLAGS.items() if flag in cpu_flags]
    if fast:
        return "mixed_bfloat16", f"CPU with {' and '.join(fast)}"
    return "float32", "CPU without AMX-BF16 or AVX512-BF16"


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty where there is none)."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def gpu_indices(device_names) -> list[int]:
    """The GPU numbers in device names (``/job:worker/replica:0/task:1/device:GPU:2`` -> 2), sorted."""
    found = {int(m[1]) for name in device_names if (m := re.search(r"device:GPU:(\d+)$", name, re.IGNORECASE))}
    return sorted(found)


def strategy_gpus(strategy) -> list[int] | None:
    """The local GPUs ``strategy`` computes on: [0] for the default strategy (TensorFlow places
    its ops on the first GPU), the GPUs among a distributed strategy's devices, None when it names none."""
    import tensorflow as tf

    if not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy():
        return [0]
    try:
        return gpu_indices(strategy.extended.worker_devices) or None
    except (AttributeError, RuntimeError, ValueError):
        return None


def gpu_capabilities() -> list[tuple[int, int]]:
    """Compute capabilities of the visible GPUs, in TensorFlow's numbering."""
    import tensorflow as tf

    capabilities = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        capabilities.append(tuple(capability) if capability else (0, 0))
    return capabilities


def resolve(
    precision: str, tpu: bool = False, gpus: list[int] | None = None, flags: set[str] | None = None
) -> tuple[str, str | None]:
    """``(policy, reason)``: ``precision`` itself (reason None), or for ``auto`` the choice for this
    machine and why, looking at the GPUs numbered ``gpus`` (None: all visible ones) and at the CPU
    feature ``flags`` (None: the host's, ``cpu_flags``)."""
    if precision != "auto":
        return precision, None
    capabilities = gpu_capabilities()
    if gpus is not None:
        capabilities = [c for number, c in enumerate(capabilities) if number in gpus]
    return choose_precision(cpu_flags() if flags is None else flags, capabilities, tpu)


def cluster_choice(mine: str, sum_over_replicas: Callable[[list[float]], Sequence[float]]) -> tuple[str, int, int]:
    """``(policy, replicas without fast bfloat16, replicas)``: the policy every worker trains in,
    given the one ``auto`` picks for this worker's hardware (``mine``: ``mixed_bfloat16`` or
    ``float32``). ``sum_over_replicas`` sums a vector of this worker's numbers over every replica of
    every worker, returning the same sums on all (``loop.make_agreement``); every worker calls it once."""
    bf16, replicas = (round(x) for x in sum_over_replicas([1.0 if mine == "mixed_bfloat16" else 0.0, 1.0]))
    return ("mixed_bfloat16" if bf16 == replicas else "float32"), replicas - bf16, replicas


@contextlib.contextmanager
def policy_scope(precision: str):
    """Layers created inside this context use the dtype policy ``precision``."""
    import keras

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def needs_loss_scaling(precision: str) -> bool:
    """float16's 5-bit exponent underflows small gradients; bfloat16 and float32 do not."""
    return precision == "mixed_float16"


def wrap_optimizer(optimizer, precision: str, initial_scale: float = 2.0**15):
    """``optimizer`` (a ``keras.optimizers.Optimizer``) with dynamic loss scaling starting at
    ``initial_scale`` where ``precision`` needs it, else unchanged."""
    if needs_loss_scaling(precision):
        from sagan_tf.training.loss_scaling import ReplicaSafeLossScaleOptimizer

        return ReplicaSafeLossScaleOptimizer(optimizer, initial_scale=initial_scale, name=f"{optimizer.name}_loss_scale")
    return optimizer
