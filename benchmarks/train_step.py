"""Training-step throughput: ``python -m benchmarks.train_step --config FILE --batch-size N``.

Runs the real ``SAGAN.train_step`` (one D and one G update) through the trainer's step function
(``sagan_tf.training.loop.make_step_function``) and prints one JSON document:

* ``median_s_per_step`` over ``--steps`` steps after ``--warmup`` steps, and images per second;
* FLOPs per step, 2 x the multiply-accumulates of every convolution and matrix product, forward and
  backward, counted on the traced step (``benchmarks.flops``):
  ``model_flops_per_step`` is the step with every op in its reference form (G upsamples and then
  convolves, D convolves and then pools, as the PyTorch reference does; G's 1x1 shortcut is
  convolved before its upsampling in every form, ``layers.blocks``), ``executed_flops_per_step``
  what the step runs with its ``model.ops`` (``ops`` in the output; the fast forms fold G's
  upsampling and D's pooling into their convolutions: same values, fewer FLOPs per step);
* ``achieved_gflop_per_s`` = model FLOPs / median step time (the like-for-like model throughput)
  and ``executed_gflop_per_s`` (what the hardware does);
* ``matmul_peak_gflop_per_s``: a 4096^3 matrix product in the precision the step computes in
  (``matmul_peak_dtype``: float32, bfloat16 or float16) measured in the same run (before and after
  the steps, the better one), and ``efficiency`` = achieved / peak (``hardware_efficiency`` with
  executed FLOPs), comparable between runs where absolute times are not;
* ``cpu_s_per_step``: process CPU seconds per step (median); when other processes run, wall time
  above CPU time / cores means the step waited for a core;
* ``losses_finite`` and the last step's losses (mixed precision must not overflow);
* with ``--data tfds``: the real input pipeline (``sagan_tf.data.pipeline``: decode, resize, cache, shuffle,
  batch, prefetch) feeds the steps, and ``data_wait_fraction`` is the share of the step time
  spent waiting for the next batch; ``pipeline_images_per_s`` is the pipeline's rate on its own.

``--precision`` selects the dtype policy, ``--jit-compile`` XLA (falls back with a reason under
several replicas, see ``sagan_tf.training.xla``), ``--intra-op``/``--inter-op`` TensorFlow's thread pools.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

PEAK_DTYPE = {"float32": "float32", "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def synthetic_dataset(cfg, batch: int):
    """One fixed random batch of ``cfg``'s image shape and classes (seed 0), repeated forever."""
    import numpy as np
    import tensorflow as tf

    d = cfg.data
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch, d.resolution, d.resolution, d.channels)).astype(np.float32)
    labels = rng.integers(0, max(d.num_classes, 1), batch).astype(np.int32)
    return tf.data.Dataset.from_tensors((images, labels)).repeat()


def _timed_steps(run_step, steps: int, warmup: int):
    """Calls ``run_step()`` (returns (logs, seconds waiting for data)); per-step wall and CPU times
    and waits."""
    times, cpu, waits, logs = [], [], [], {}
    for i in range(warmup + steps):
        start, start_cpu = time.perf_counter(), time.process_time()
        logs, waited = run_step()
        logs = {k: float(v) for k, v in logs.items()}  # waits for the step to finish
        if i >= warmup:
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            waits.append(waited)
    return times, cpu, waits, logs


def nominal_flops(cfg, strategy, dataset) -> int:
    """FLOPs of the step with every op in its reference form (``model.ops=reference``: G upsamples,
    then convolves; D convolves, then pools), on a model of its own."""
    import dataclasses

    from benchmarks.flops import function_flops
    from sagan_tf.training.builders import build_sagan
    from sagan_tf.training.loop import make_step_function

    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, ops="reference"))
    with strategy.scope():
        model = build_sagan(cfg)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    return sum(function_flops(make_step_function(model, strategy), iterator).values())


def pipeline_rate(dataset, batch: int, batches: int = 30) -> float:
    """Images per second the input pipeline delivers on its own (after one warm-up batch)."""
    iterator = iter(dataset)
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batch * batches / (time.perf_counter() - start)


def measure(cfg, strategy, steps: int, warmup: int, jit_compile: bool = False, data_dir=None, real_data=False) -> dict:
    import tensorflow as tf

    from benchmarks.common import load_average, matmul_peak_gflops
    from benchmarks.flops import function_flops
    from sagan_tf.data import pipeline as data_lib
    from sagan_tf.training.builders import build_sagan
    from sagan_tf.training.loop import make_step_function
    from sagan_tf.training.xla import jit_unsupported_reason, maybe_jit

    batch = cfg.train.batch_size * cfg.train.d_steps
    with strategy.scope():
        model = build_sagan(cfg)
    model_flops = nominal_flops(cfg, strategy, synthetic_dataset(cfg, batch))
    peak_dtype = PEAK_DTYPE[cfg.train.precision]
    peak_before = matmul_peak_gflops(peak_dtype)
    load_before = load_average()
    result: dict = {}
    if real_data:
        dataset = data_lib.make_dataset(cfg.data, batch, data_dir, seed=cfg.train.seed)
        result["pipeline_images_per_s"] = round(pipeline_rate(dataset, batch), 1)
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
        train_step, fallback = maybe_jit(model.train_step, strategy, jit_compile)

        @tf.function
        def step_on(batch_data):
            per_replica = strategy.run(train_step, args=(batch_data,))
            return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per_replica.items()}

        def run_step():
            start = time.perf_counter()
            batch_data = next(iterator)
            waited = time.perf_counter() - start
            return step_on(batch_data), waited

        flops = function_flops(step_on, next(iterator))
    else:
        iterator = iter(strategy.experimental_distribute_dataset(synthetic_dataset(cfg, batch)))
        step_fn = make_step_function(model, strategy, jit_compile)
        fallback = jit_unsupported_reason(strategy) if jit_compile else None

        def run_step():
            return step_fn(iterator), 0.0

        flops = function_flops(step_fn, iterator)
    times, cpu, waits, logs = _timed_steps(run_step, steps, warmup)
    peak_after = matmul_peak_gflops(peak_dtype)
    median = statistics.median(times)
    executed = sum(flops.values())
    peak = max(peak_before, peak_after)
    achieved = model_flops / median / 1e9
    result.update(
        median_s_per_step=round(median, 5),
        images_per_s=round(cfg.train.batch_size / median, 2),
        steps_timed=steps,
        warmup_steps=warmup,
        step_times_s=[round(t, 5) for t in times],
        cpu_s_per_step=round(statistics.median(cpu), 3),
        model_flops_per_step=model_flops,
        executed_flops_per_step=executed,
        executed_flops_by_op=flops,
        achieved_gflop_per_s=round(achieved, 1),
        executed_gflop_per_s=round(executed / median / 1e9, 1),
        matmul_peak_dtype=peak_dtype,
        matmul_peak_gflop_per_s=peak,
        matmul_peak_before_after=[peak_before, peak_after],
        efficiency=round(achieved / peak, 3),
        hardware_efficiency=round(executed / median / 1e9 / peak, 3),
        jit_compile={"requested": jit_compile, "used": jit_compile and fallback is None, "fallback": fallback},
        losses={k: round(v, 4) for k, v in logs.items() if k in ("d_loss", "g_loss", "d_real", "d_fake")},
        losses_finite=all(math.isfinite(logs[k]) for k in ("d_loss", "g_loss")),
        load_average_before_after=[load_before, load_average()],
        g_params=model.generator.count_params(),
        d_params=model.discriminator.count_params(),
        ops=str(model.generator.ops),
    )
    if real_data:
        result["data_wait_fraction"] = round(sum(waits) / sum(times), 4)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_step", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--strategy", default="default")
    p.add_argument("--virtual-cpus", type=int, default=0, help="split the CPU into N logical devices")
    p.add_argument("--precision", help="auto, float32, mixed_bfloat16 or mixed_float16 (train.precision)")
    p.add_argument("--jit-compile", action="store_true", help="XLA-compile the step (train.jit_compile)")
    p.add_argument("--data", choices=("synthetic", "tfds"), default="synthetic", help="in-memory batch or the real pipeline")
    p.add_argument("--data-dir", help="TFDS data directory for --data tfds")
    p.add_argument("--intra-op", type=int, default=0, help="TensorFlow intra-op threads (0: default)")
    p.add_argument("--inter-op", type=int, default=0, help="TensorFlow inter-op threads (0: default)")
    p.add_argument("--set", nargs="+", action="extend", default=[])
    args = p.parse_args(argv)

    import tensorflow as tf

    from benchmarks.common import print_report
    from sagan_tf import config as config_lib
    from sagan_tf.cluster.distribute import make_strategy, split_cpu
    from sagan_tf.training.precision import resolve

    if args.intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra_op)
    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    if args.virtual_cpus > 1:
        split_cpu(args.virtual_cpus)
    overrides = list(args.set)
    if args.batch_size:
        overrides.append(f"train.batch_size={args.batch_size}")
    if args.precision:
        overrides.append(f"train.precision={args.precision}")
    cfg = config_lib.load(args.config, overrides)
    cfg.train.precision = resolve(cfg.train.precision)[0]
    strategy = make_strategy(args.strategy)
    result = {
        "benchmark": "train_step",
        "config": args.config,
        "overrides": overrides,
        "batch_size": cfg.train.batch_size,
        "d_steps": cfg.train.d_steps,  # a step draws batch_size * d_steps real images
        "precision": cfg.train.precision,
        "strategy": args.strategy,
        "replicas": strategy.num_replicas_in_sync,
        "data": args.data,
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        **measure(cfg, strategy, args.steps, args.warmup, args.jit_compile, args.data_dir, args.data == "tfds"),
    }
    return print_report(result)


if __name__ == "__main__":
    sys.exit(main())
