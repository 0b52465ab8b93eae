"""Both forms of ``sagan_tf.ops`` on one config and one machine: do they agree, and which is faster.

``sagan-train --config C --compare-ops`` (``compare``) answers, on the user's own hardware (a GPU,
a TPU, another CPU), the question ``model.ops: auto`` leaves open there:

1. It builds the config's GAN twice under the strategy, once with every op in its reference form and
   once in its fast form, from one seed (identical weights), and runs both on the same synthetic
   batch of the config's shape (images in [-1, 1], labels of every class; a step's time does not
   depend on the pixels, so no dataset is read).
2. Agreement: the logged values of the first ``AGREEMENT_STEPS`` steps (D's loss and mean outputs,
   G's loss) must agree within ``TOLERANCE`` of the precision, relative to max(1, |value|). The
   first step starts from identical weights and checks the forward passes; the second starts from
   weights each form updated with its own gradients and so checks the backward passes too.
3. Time: after a warm-up (tracing, XLA compilation), rounds of one step of each form in turn, so
   that any other load hits both alike; the median seconds per step of each.

The result says which ``model.ops`` to set; nothing is written.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from sagan_tf.config import Config
from sagan_tf.errors import SaganError
from sagan_tf.training.builders import build_sagan
from sagan_tf.training.loop import make_step_function

FORMS = ("reference", "fast")
AGREEMENT_STEPS = 2
LOGGED = ("d_loss", "d_real", "d_fake", "g_loss")
# float32: the forms add the same terms in other orders (1e-6 relative per value, amplified a little
# by one Adam step); bfloat16 and float16 round every activation (2^-8, 2^-11) and D's outputs sum
# thousands of them.
TOLERANCE = {"float32": 1e-3, "mixed_bfloat16": 5e-2, "mixed_float16": 5e-2}
MIN_SPEEDUP = 1.03  # below this the two are within the noise of a few steps: keep the reference forms


@dataclasses.dataclass
class Comparison:
    """What ``compare`` measured: per form the median seconds per step and the logged values of the
    first steps; the largest relative difference between the forms; the recommended ``model.ops``."""

    precision: str
    devices: str
    batch_size: int
    seconds_per_step: dict[str, float]
    logs: dict[str, list[dict[str, float]]]
    largest_difference: float
    tolerance: float
    agree: bool
    recommended: str

    def lines(self) -> list[str]:
        """The report a user reads."""
        ref, fast = self.seconds_per_step["reference"], self.seconds_per_step["fast"]
        out = [
            f"devices: {self.devices}; precision {self.precision}; global batch {self.batch_size}",
            f"reference forms: {ref:.4f} s per step; fast forms: {fast:.4f} s per step ({ref / fast:.2f}x)",
            f"agreement over the first {AGREEMENT_STEPS} steps: largest relative difference "
            f"{self.largest_difference:.2g} (tolerance {self.tolerance:g}): {'agree' if self.agree else 'DIFFER'}",
        ]
        if not self.agree:
            out.append("the fast forms do not agree with the reference forms here: set model.ops=reference "
                       "(and please report this with the lines above)")
        elif self.recommended == "fast":
            out.append(f"set model.ops=fast: {ref / fast:.2f}x faster here (--set model.ops=fast, or ops: fast in the config)")
        else:
            out.append("set model.ops=reference: the fast forms are not faster here")
        return out


def _synthetic_batches(cfg: Config, batch: int) -> tf.data.Dataset:
    d = cfg.data
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch, d.resolution, d.resolution, d.channels)).astype(np.float32)
    labels = (np.arange(batch) % max(d.num_classes, 1)).astype(np.int32)
    return tf.data.Dataset.from_tensors((images, labels)).repeat()


def _devices(strategy: tf.distribute.Strategy) -> str:
    """The devices the step computes on, as TensorFlow names them."""
    try:
        return ", ".join(strategy.extended.worker_devices)
    except RuntimeError:  # the default strategy: TensorFlow's default placement, the first GPU if any
        gpus = tf.config.list_logical_devices("GPU")
        return (gpus or tf.config.list_logical_devices("CPU"))[0].name


def _relative_difference(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(a), abs(b))


def compare(cfg: Config, strategy: tf.distribute.Strategy, steps: int = 10, warmup: int = 2) -> Comparison:
    """Times and compares both forms of the ops on ``cfg`` (its resolved precision) under ``strategy``."""
    if steps < 1 or warmup < 0:
        raise SaganError(f"--compare-ops needs at least one timed step, got {steps} (warm-up {warmup})")
    batch = cfg.train.batch_size * cfg.train.d_steps
    runs = {}
    for form in FORMS:
        form_cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, ops=form))
        keras.utils.set_random_seed(cfg.train.seed)
        with strategy.scope():
            model = build_sagan(form_cfg)
        iterator = iter(strategy.experimental_distribute_dataset(_synthetic_batches(cfg, batch)))
        runs[form] = (make_step_function(model, strategy, cfg.train.jit_compile), iterator)
    logs: dict[str, list[dict[str, float]]] = {form: [] for form in FORMS}
    for _ in range(max(AGREEMENT_STEPS, warmup)):
        for form, (step, iterator) in runs.items():
            values = {k: float(v) for k, v in step(iterator).items() if k in LOGGED}
            if len(logs[form]) < AGREEMENT_STEPS:
                logs[form].append(values)
    largest = 0.0
    for ref_step, fast_step in zip(logs["reference"], logs["fast"], strict=True):
        for key in ref_step:
            difference = _relative_difference(ref_step[key], fast_step[key])
            largest = max(largest, difference if math.isfinite(difference) else math.inf)
    times: dict[str, list[float]] = {form: [] for form in FORMS}
    for _ in range(steps):
        for form, (step, iterator) in runs.items():
            start = time.perf_counter()
            float(step(iterator)["g_loss"])  # waits for the step
            times[form].append(time.perf_counter() - start)
    seconds = {form: statistics.median(t) for form, t in times.items()}
    tolerance = TOLERANCE[cfg.train.precision]
    agree = largest <= tolerance
    faster = seconds["reference"] / seconds["fast"] >= MIN_SPEEDUP
    devices = _devices(strategy)
    return Comparison(
        precision=cfg.train.precision, devices=devices, batch_size=cfg.train.batch_size, seconds_per_step=seconds,
        logs=logs, largest_difference=largest, tolerance=tolerance, agree=agree,
        recommended="fast" if agree and faster else "reference",
    )
