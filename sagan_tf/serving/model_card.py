"""The model card of an exported or shipped generator: ``MODEL_CARD.md`` beside ``export.json``.

It says what a user of the generator needs before trusting its images (after Mitchell et al. 2019,
"Model Cards for Model Reporting"): the model and its inputs, the data it learned from, how it was
trained (config, steps, wall-clock and hardware, from the run's ``training.json``), the metrics
measured on this very checkpoint with the protocol that produced each (from ``RUN/evaluations/``,
written by ``sagan-evaluate``), and its intended use and limits. Nothing in it is typed by hand:
what the run did not record is said to be unknown.
"""

from __future__ import annotations

from sagan_tf.training import record

CARD_FILE = "MODEL_CARD.md"
METRIC_NAMES = {"is": "Inception Score", "is_std": "IS std over splits", "fid": "FID", "intra_fid": "intra-FID"}


def _data_source(data) -> str:
    if data.source == "folder":
        return f"a folder of images (`{data.path}`)"
    return f"TensorFlow Datasets `{data.name}`, split `{data.split}`"


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.1f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _training_lines(step: int | None, sessions: list[dict]) -> list[str]:
    if not sessions:
        return [f"- Steps: {step}. Wall-clock and hardware: not recorded by this run."]
    total = record.totals(sessions)
    lines = [
        f"- Steps: {step}, trained in {_duration(total['seconds'])} of wall-clock over {len(sessions)} "
        f"session(s) on {'; '.join(total['hardware'])}, precision {', '.join(total['precisions'])}.",
    ]
    for s in sessions:
        lines.append(
            f"  - {s.get('started', '?')}: steps {s.get('start_step')}-{s.get('end_step')} in "
            f"{_duration(s.get('seconds', 0.0))}, {describe_session(s)}"
        )
    return lines


def describe_session(s: dict) -> str:
    return (
        f"{record.describe_hardware(s.get('hardware', {}))}, {s.get('precision')}, strategy {s.get('strategy')} "
        f"with {s.get('replicas')} replica(s), global batch {s.get('batch_size')}, "
        f"TensorFlow {s.get('tensorflow')}"
    )


def _metric_lines(evaluations: list[dict]) -> list[str]:
    if not evaluations:
        return [
            "No metric was measured on this checkpoint: run `sagan-evaluate --logdir RUN` (which keeps its",
            "result in the run) before exporting to have it here.",
        ]
    lines = ["| metric | value | features | generated | reference | generator | seed |", "|---|---|---|---|---|---|---|"]
    for ev in evaluations:
        reference = f"{ev.get('num_real')} of `{ev.get('real_split')}`" if ev.get("num_real") else "none"
        for key, name in METRIC_NAMES.items():
            if key in ev and ev[key] is not None:
                lines.append(
                    f"| {name} | {ev[key]:.4g} | `{ev.get('features')}` | {ev.get('num_samples')} | {reference} "
                    f"| {ev.get('generator')} | {ev.get('seed')} |"
                )
    lines += [
        "",
        "Features named `inception_v3-...` are Keras' ImageNet Inception-v3; any other name is a domain",
        "classifier (`sagan-train-feature-model`) with the SHA-256 prefix of its file: such numbers compare",
        "only with numbers from the same classifier file, never with published Inception FID tables.",
    ]
    return lines


def model_card(
    cfg,
    step: int | None,
    generator_name: str,
    parameters: int,
    sessions: list[dict],
    evaluations: list[dict],
    class_names: list[str] | None = None,
    title: str = "SAGAN generator",
) -> str:
    """The card's Markdown text."""
    data, model, train = cfg.data, cfg.model, cfg.train
    if data.num_classes > 0:
        classes = f"{data.num_classes} classes" + (f": {', '.join(class_names)}" if class_names else "")
    else:
        classes = "unconditional (one label, 0)"
    ema = f"EMA decay {train.ema_decay:g} from step {train.ema_start}" if train.ema_decay > 0 else "no EMA"
    which = "the exponential moving average of G's weights" if generator_name != "generator" else "the trained G"
    lines = [
        f"# Model card: {title}",
        "",
        "## Model",
        "",
        f"- A Self-Attention GAN generator (Zhang et al. 2018, arXiv:1805.08318), `{model.arch}` architecture,",
        f"  base width `ch` {model.ch}, self-attention at {model.g_attention or 'no'} pixels, "
        f"{parameters:,} parameters; {which}.",
        f"- Input: z of {model.z_dim} standard normal values and a class label; output: "
        f"{data.resolution}x{data.resolution}x{data.channels} images in [-1, 1].",
        f"- Classes: {classes}.",
        "",
        "## Data",
        "",
        f"- {_data_source(data)}, {data.resolution} px, {data.channels} channel(s), resize `{data.resize}`, "
        f"centre crop {'on' if data.center_crop else 'off'}, random flips {'on' if data.random_flip else 'off'}.",
        "",
        "## Training",
        "",
        f"- Hinge loss with TTUR: G lr {train.g_lr:g}, D lr {train.d_lr:g}, Adam betas ({train.beta1:g}, "
        f"{train.beta2:g}), {train.d_steps} D update(s) per G update, global batch {train.batch_size}, "
        f"{ema}, seed {train.seed}.",
        *_training_lines(step, sessions),
        "",
        "## Metrics",
        "",
        *_metric_lines(evaluations),
        "",
        "## Intended use and limits",
        "",
        "- For research on generative models, demonstrations and tests of serving pipelines: images like the",
        f"  training data, of {data.resolution} px and only of its classes.",
        "- It reproduces the training data's content and biases, can copy training images, and makes",
        "  failures (blurred or mixed classes) that a metric averages away: look at samples before use.",
        "- Not for depicting real people, not evidence of anything, and not a substitute for real data when",
        "  training or testing other models without checking.",
        "- Exported TFLite models compute the same function within the error bounds listed in `export.json`.",
        "",
    ]
    return "\n".join(lines)


def run_model_card(logdir, generator, cfg, step: int | None, title: str = "SAGAN generator") -> str:
    """The card of ``generator`` (loaded from checkpoint ``step`` of the run in ``logdir``)."""
    from sagan_tf.data.class_names import class_names
    from sagan_tf.training.run_dir import read_evaluations

    evaluations = [e for e in read_evaluations(logdir, step) if e.get("generator") == generator.name]
    return model_card(
        cfg, step, generator.name, generator.count_params(), record.read(logdir), evaluations,
        class_names(cfg.data), title,
    )
