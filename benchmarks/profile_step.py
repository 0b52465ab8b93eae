"""Where a training step's time goes: ``python -m benchmarks.profile_step --config FILE [--batch-size N]``.

Traces ``--steps`` steps one by one with the TensorFlow profiler (after ``--warmup`` steps), reads
the host plane of each trace (``*.xplane.pb``) and keeps, for every op, its shortest time over the
traced steps. Under load from other processes this "best of N per op" is a robust estimate
of what the step costs when it has the cores to itself: a kernel that was descheduled in one step
runs undisturbed in another. Kernels run one at a time (``--inter-op 1``) so their times add up.

Prints JSON: the wall time per step (median), the sum of the per-op best times, the executed FLOPs
(``benchmarks.flops``) and the GFLOP/s of each, seconds per kernel type
(``_MklNativeConv2DBackpropFilter``, ``Mul``, ...) grouped into convolutions / matrix products /
everything else, and the most expensive single ops with their GFLOP/s.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import statistics
import sys
import tempfile
import time

CONV = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")
MATMUL = ("MatMul", "BatchMatMul")
_NOT_KERNELS = ("ExecutorState::Process", "KernelAndDeviceFunc::Run", "EagerLocalExecute", "Iterator")


def kernel_times(xplane_path: str) -> collections.Counter:
    """Seconds per ``op_name:OpType`` event on the host plane of a profiler trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(xplane_path, "rb") as f:
        space.ParseFromString(f.read())
    times: collections.Counter = collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" in name and not name.startswith(("$", "__")) and not name.startswith(_NOT_KERNELS):
                    times[name] += event.duration_ps / 1e12
    return times


def category(op_type: str) -> str:
    base = op_type.replace("_MklNative", "").replace("_Mkl", "").replace("Fused", "")
    if base.startswith(CONV):
        return "convolution"
    if base.startswith(MATMUL):
        return "matmul"
    return "other"


def part(op_name: str) -> str:
    """Which pass of which network an op belongs to, from its name scope: 'G forward', 'D backward', ...
    (G runs forward twice per step: for D's update and for its own)."""
    if op_name.startswith("CpuExecutable::"):  # XLA-compiled kernels carry no op name in the trace
        return "XLA-compiled kernels"
    backward = op_name.startswith("gradient_tape/")
    scope = op_name.removeprefix("gradient_tape/")
    for prefix, net in (("generator", "G"), ("discriminator", "D")):
        if scope.startswith(prefix):
            return f"{net} {'backward' if backward else 'forward'}"
    return "rest (optimizers, spectral norm, losses)"


def best_per_op(traces: list[collections.Counter]) -> collections.Counter:
    """Each op's shortest time over the traces (ops missing from a trace are ignored there)."""
    best: collections.Counter = collections.Counter()
    for times in traces:
        for name, seconds in times.items():
            best[name] = min(best[name], seconds) if name in best else seconds
    return best


def summarize(times: collections.Counter, op_flops: dict[str, int] | None = None, top: int = 25) -> dict:
    """``times``: seconds per ``op_name:OpType`` for one step; ``op_flops``: FLOPs per op name."""
    op_flops = op_flops or {}
    by_type: collections.Counter = collections.Counter()
    for name, seconds in times.items():
        by_type[name.rsplit(":", 1)[1]] += seconds
    by_category: collections.Counter = collections.Counter()
    for op_type, seconds in by_type.items():
        by_category[category(op_type)] += seconds
    top_ops = {}
    for name, seconds in times.most_common(top):
        flops = op_flops.get(name.rsplit(":", 1)[0], 0)
        top_ops[name] = {"s": round(seconds, 4), "gflop_per_s": round(flops / seconds / 1e9, 1) if flops else None}
    others = collections.Counter({k: v for k, v in times.items() if category(k.rsplit(":", 1)[1]) == "other"})
    by_part: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name, seconds in times.items():
        by_part[part(name)][category(name.rsplit(":", 1)[1])] += seconds
    return {
        "kernel_s_per_step": round(sum(by_type.values()), 4),
        "by_category_s_per_step": {k: round(v, 4) for k, v in by_category.most_common()},
        "by_op_type_s_per_step": {k: round(v, 4) for k, v in by_type.most_common(top)},
        "by_part_s_per_step": {
            name: {k: round(v, 4) for k, v in sorted(split.items())} for name, split in sorted(by_part.items())
        },
        "top_ops": top_ops,
        "top_other_ops_s": {k: round(v, 4) for k, v in others.most_common(top)},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_step", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--precision")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--inter-op", type=int, default=1)
    p.add_argument("--set", nargs="+", action="extend", default=[])
    args = p.parse_args(argv)

    import tensorflow as tf

    from benchmarks.common import load_average, matmul_peak_gflops, print_report
    from benchmarks.flops import executed_ops, op_flops
    from benchmarks.train_step import synthetic_dataset
    from sagan_tf import config as config_lib
    from sagan_tf.training.builders import build_sagan
    from sagan_tf.training.loop import make_step_function

    if args.inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)
    overrides = list(args.set)
    overrides += [f"train.batch_size={args.batch_size}"] if args.batch_size else []
    overrides += [f"train.precision={args.precision}"] if args.precision else []
    cfg = config_lib.load(args.config, overrides)
    strategy = tf.distribute.get_strategy()
    model = build_sagan(cfg)
    step_fn = make_step_function(model, strategy)
    iterator = iter(synthetic_dataset(cfg, cfg.train.batch_size * cfg.train.d_steps))
    graph = step_fn.get_concrete_function(iterator).graph
    flops = {op.name: op_flops(op) for op in executed_ops(graph)}
    total_flops = sum(flops.values())
    for op in executed_ops(graph):  # grappler fuses Conv2D + bias add into one kernel named after the add
        if op.type in ("AddV2", "BiasAdd") and op.inputs[0].op.type == "Conv2D":
            flops[op.name] = flops[op.inputs[0].op.name]
    for _ in range(args.warmup):
        float(step_fn(iterator)["g_loss"])
    peak = matmul_peak_gflops()
    load_before = load_average()
    traces, walls = [], []
    for _ in range(args.steps):
        logdir = tempfile.mkdtemp(prefix="sagan_profile_")
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        float(step_fn(iterator)["g_loss"])
        walls.append(time.perf_counter() - start)
        tf.profiler.experimental.stop()
        (path,) = glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb"))
        traces.append(kernel_times(path))
    best = best_per_op(traces)
    best_sum = sum(best.values())
    wall = statistics.median(walls)
    result = {
        "benchmark": "profile_step",
        "config": args.config,
        "overrides": overrides,
        "inter_op_threads": args.inter_op,
        "steps_traced": args.steps,
        "wall_s_per_step_median": round(wall, 4),
        "best_per_op_sum_s": round(best_sum, 4),
        "executed_flops_per_step": total_flops,
        "executed_gflop_per_s_wall": round(total_flops / wall / 1e9, 1),
        "executed_gflop_per_s_best_per_op": round(total_flops / best_sum / 1e9, 1),
        "matmul_peak_gflop_per_s": peak,
        "hardware_efficiency_best_per_op": round(total_flops / best_sum / 1e9 / peak, 3),
        "load_average_before_after": [load_before, load_average()],
        **summarize(best, flops),
    }
    return print_report(result)


if __name__ == "__main__":
    sys.exit(main())
