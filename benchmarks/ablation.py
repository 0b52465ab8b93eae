"""What each fast form is worth: ``python -m benchmarks.ablation [--config FILE] [--rounds 5]``.

Builds the same training step once per variant and precision: ``all`` (every op of ``sagan_tf.ops``
in its fast form, ``model.ops=fast``), ``all`` without one group of fast forms each (``GROUPS``: G's
upsampling convolution, D's pooled convolution, the fused batch-norm kernel, the fused element-wise
kernels of ``ops.scale_shift_relu``, ``ops.add_upsampled`` and ``ops.bias_add``), or without any
(``none``, ``model.ops=reference``), and times them interleaved in one process, round after round,
so that any load on the machine hits every variant alike. Prints JSON with the min and median
seconds per step of each variant and the bf16 / fp32 ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

# variant names -> the ops of sagan_tf.ops_choice whose fast forms they leave out
GROUPS = {
    "fold_g": ("upsample_conv",),
    "fold_d": ("conv_avgpool",),
    "fused_bn": ("batch_norm",),
    "fused_elementwise": ("scale_shift_relu", "add_upsampled", "bias_add"),
}
VARIANTS = ("all", *(f"no_{name}" for name in GROUPS), "none")


def ops_setting(variant: str) -> str:
    """The ``model.ops`` value of a variant."""
    from sagan_tf.ops_choice import OPS, OpChoice

    if variant == "all":
        return "fast"
    if variant == "none":
        return "reference"
    left_out = set(GROUPS[variant.removeprefix("no_")])
    return str(OpChoice(frozenset(op for op in OPS if op not in left_out)))


def build_variant(cfg, name: str):
    """A step function (and its iterator) for one variant, built with the variant's ``model.ops``."""
    import dataclasses

    import numpy as np
    import tensorflow as tf

    from sagan_tf.training.builders import build_sagan
    from sagan_tf.training.loop import make_step_function

    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, ops=ops_setting(name)))
    model = build_sagan(cfg)
    d, batch = cfg.data, cfg.train.batch_size
    images = np.random.default_rng(0).uniform(-1, 1, (batch, d.resolution, d.resolution, d.channels))
    labels = np.arange(batch, dtype=np.int32) % max(d.num_classes, 1)
    iterator = iter(tf.data.Dataset.from_tensors((images.astype(np.float32), labels)).repeat())
    step = make_step_function(model, tf.distribute.get_strategy())
    float(step(iterator)["g_loss"])  # traced (and warmed up) here
    return step, iterator


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ablation", description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/cifar10_32.yaml")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--precisions", nargs="+", default=["float32", "mixed_bfloat16"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = p.parse_args(argv)

    from benchmarks.common import load_average, print_report
    from sagan_tf import config as config_lib

    steps = {}
    for precision in args.precisions:
        cfg = config_lib.load(args.config, [f"train.batch_size={args.batch_size}", f"train.precision={precision}"])
        for name in args.variants:
            steps[f"{precision}/{name}"] = build_variant(cfg, name)
    load_before = load_average()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(args.rounds):
        for key, (step, iterator) in steps.items():
            start = time.perf_counter()
            float(step(iterator)["g_loss"])
            times[key].append(time.perf_counter() - start)
    summary = {k: {"min_s": round(min(v), 3), "median_s": round(statistics.median(v), 3)} for k, v in times.items()}
    ratios = {}
    if {"float32", "mixed_bfloat16"} <= set(args.precisions):
        for name in args.variants:
            fp32, bf16 = summary[f"float32/{name}"], summary[f"mixed_bfloat16/{name}"]
            ratios[name] = {s: round(bf16[s] / fp32[s], 3) for s in ("min_s", "median_s")}
    return print_report({
        "benchmark": "ablation",
        "config": args.config,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "seconds_per_step": summary,
        "bf16_over_fp32": ratios,
        "load_average_before_after": [load_before, load_average()],
    })


if __name__ == "__main__":
    sys.exit(main())
