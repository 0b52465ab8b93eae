"""The model card of an exported or shipped generator: ``MODEL_CARD.md`` beside ``export.json``.

It says what a user of the generator needs before trusting its images (after Mitchell et al. 2019,
"Model Cards for Model Reporting"): the model and its inputs, the data it learned from, how it was
trained (config, steps, wall-clock and hardware, from the run's ``training.json``), the metrics
measured on this very checkpoint with the protocol that produced each (from ``RUN/evaluations/``,
written by ``sagan-evaluate``), and its intended use and limits. Nothing in it is typed by hand:
what the run did not record is said to be unknown. Every metric kept (IS, FID, intra-FID, KID,
precision, recall, density, coverage) is shown with the protocol it was measured under; results of
``sagan-evaluate --model`` on the export itself are added to the export's card afterwards
(``with_export_metrics``). A result measured class by class adds the weakest classes.
"""

from __future__ import annotations

from pathlib import Path

from sagan_tf.runs import record

CARD_FILE = "MODEL_CARD.md"
METRIC_NAMES = {
    "is": "Inception Score", "is_std": "IS std over splits", "fid": "FID", "intra_fid": "intra-FID",
    "kid": "KID", "kid_std": "KID std over subsets", "precision": "precision", "recall": "recall",
    "density": "density", "coverage": "coverage",
}


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


def _protocol_text(protocol: dict) -> str:
    """One line of what a result's numbers depend on (its ``protocol`` object)."""
    network, generator = protocol.get("feature_network") or {}, protocol.get("generator") or {}
    reference = protocol.get("reference")
    digest = f", SHA-256 `{network['sha256'][:16]}...`" if network.get("sha256") else ""
    parts = [f"network `{network.get('name')}` ({network.get('weights')} weights{digest}, {network.get('dim')}-d)",
             f"resize: {protocol.get('resize')}"]
    truncation = generator.get("truncation")
    export = generator.get("export")
    parts.append(
        f"generator {generator.get('name')} of `{generator.get('checkpoint')}`"
        + (f" through the export `{export.get('path')}`" if export else "")
        + (f", z truncated to [-{truncation:g}, {truncation:g}]" if truncation is not None else ", z untruncated")
    )
    parts.append(f"{protocol.get('num_generated')} generated ({protocol.get('labels')} labels, seed {protocol.get('seed')})")
    if reference and reference.get("source") == "file":
        parts.append(f"reference statistics file `{reference.get('file')}`")
    elif reference:
        prep = reference.get("preparation") or {}
        parts.append(f"reference {protocol.get('num_reference')} images of `{reference.get('dataset')}` "
                     f"split `{reference.get('split')}` ({prep.get('resolution')} px, {prep.get('channels')} channel(s), "
                     f"resize {prep.get('resize')})")
    if protocol.get("kid_subsets"):
        parts.append(f"KID over {protocol['kid_subsets']} subsets of {protocol.get('kid_subset_size')}")
    for key, what in (("k_precision_recall", "precision/recall"), ("k_density_coverage", "density/coverage")):
        if protocol.get(key):
            parts.append(f"{what} k = {protocol[key]}")
    return "; ".join(parts) + "."


def metric_table(evaluations: list[dict]) -> list[str]:
    """A table with one row per metric of each result, and under it the protocols the rows cite."""
    lines = ["| metric | value | features | generated | reference | generator | seed | protocol |",
             "|---|---|---|---|---|---|---|---|"]
    protocols: list[str] = []
    for ev in evaluations:
        reference = f"{ev.get('num_real')} of `{ev.get('real_split')}`" if ev.get("num_real") else "none"
        cited = "not recorded"
        if ev.get("protocol"):
            text = _protocol_text(ev["protocol"])
            if text not in protocols:
                protocols.append(text)
            cited = f"[{protocols.index(text) + 1}]"
        for key, name in METRIC_NAMES.items():
            if isinstance(ev.get(key), (int, float)):
                lines.append(
                    f"| {name} | {ev[key]:.4g} | `{ev.get('features')}` | {ev.get('num_samples')} | {reference} "
                    f"| {ev.get('generator')} | {ev.get('seed')} | {cited} |"
                )
    if protocols:
        lines += ["", "Protocols (what each number depends on besides the weights; equal protocols compare):"]
        for i, text in enumerate(protocols, 1):
            lines += ["", f"[{i}] {text}"]
    return lines


FEATURES_NOTE = [
    "",
    "Features named `inception_v3-...` are Keras' ImageNet Inception-v3, which is not the 2015 Inception",
    "graph behind published tables; `inception-2015-12-05-...` is that graph (its SHA-256 prefix follows",
    "the name); any other name is a domain classifier (`sagan-train-feature-model`) with the SHA-256 prefix",
    "of its file: such numbers compare only with numbers from the same classifier file, never with",
    "published Inception FID tables. A name ending in `-clean` resized images as clean-fid does.",
]


def _metric_lines(evaluations: list[dict]) -> list[str]:
    if not evaluations:
        return [
            "No metric was measured on this checkpoint: run `sagan-evaluate --logdir RUN` (which keeps its",
            "result in the run) before exporting to have it here.",
        ]
    return metric_table(evaluations) + FEATURES_NOTE + weakest_class_lines(evaluations)


def weakest_class_lines(evaluations: list[dict]) -> list[str]:
    """The weakest classes of the newest result that measured classes one by one (``per_class``):
    each with its recall and intra-FID against the median class, and whether it fails the criterion."""
    measured = [ev for ev in evaluations if ev.get("weakest_classes")]
    if not measured:
        return []
    ev = measured[-1]
    criterion = ev.get("per_class_criterion") or {}
    lines = ["", "### Weakest classes", "",
             f"Diversity class by class ({ev.get('num_samples')} generated, `{ev.get('features')}` features, seed "
             f"{ev.get('seed')}): a class is below the criterion when its recall is under "
             f"{criterion.get('recall_vs_median_at_least')} x the median class's or its intra-FID over "
             f"{criterion.get('intra_fid_vs_median_at_most')} x the median class's.", "",
             "| class | recall | x median | intra-FID | x median | below the criterion |", "|---|---|---|---|---|---|"]
    for w in ev["weakest_classes"]:
        cells = [f"{w[key]:.4g}" if isinstance(w.get(key), (int, float)) else "-"
                 for key in ("recall", "recall_vs_median", "intra_fid", "intra_fid_vs_median")]
        lines.append(f"| {w.get('name') or w.get('class')} | {' | '.join(cells)} | {'yes' if w.get('below_criterion') else 'no'} |")
    return lines


EXPORT_HEADING = "### Measured on this export"
NEXT_SECTION = "## Intended use and limits"


def with_export_metrics(card: str, evaluations: list[dict]) -> str:
    """``card`` (a ``MODEL_CARD.md`` text) with its subsection of the results of ``sagan-evaluate
    --model`` on the export, at the end of the metrics, replaced by one for ``evaluations``."""
    lines = card.split("\n")
    if EXPORT_HEADING in lines:  # drop the old subsection, up to the next heading of its level or above
        start = lines.index(EXPORT_HEADING)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("## ", "### "))), len(lines))
        lines = lines[:start] + lines[end:]
    note = [] if FEATURES_NOTE[1] in lines else FEATURES_NOTE  # said once per card
    section = [EXPORT_HEADING, "", "By `sagan-evaluate --model` on this exported SavedModel:", "",
               *metric_table(evaluations), *note, ""]
    at = lines.index(NEXT_SECTION) if NEXT_SECTION in lines else len(lines)
    return "\n".join(lines[:at] + section + lines[at:])


def model_card(
    cfg,
    step: int | None,
    generator_name: str,
    parameters: int,
    sessions: list[dict],
    evaluations: list[dict],
    class_names: list[str] | None = None,
    title: str = "SAGAN generator",
    checkpoint: str | None = None,
) -> str:
    """The card's Markdown text; ``checkpoint``: which checkpoint the weights are and why
    (``runs.choice.CheckpointChoice.reason``)."""
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
        *([f"- Checkpoint: step {step}, {checkpoint}."] if checkpoint else []),
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


NOTES_HEADING = "## How these numbers were made"


def with_notes(card: str, notes: str) -> str:
    """The card with ``notes`` (markdown) as its last section; the card itself when ``notes`` is empty."""
    notes = notes.strip()
    return f"{card.rstrip()}\n\n{NOTES_HEADING}\n\n{notes}\n" if notes else card


def without_notes(card: str) -> str:
    """The card without its notes section."""
    return card.partition(f"\n\n{NOTES_HEADING}\n")[0].rstrip() + "\n"


def card_notes(card: str) -> str:
    """The notes section of a card (``with_notes``), empty when it has none."""
    _, found, notes = card.partition(f"\n{NOTES_HEADING}\n")
    return notes.strip() if found else ""


def run_model_card(logdir, generator, cfg, step: int | None, title: str = "SAGAN generator",
                   checkpoint: str | None = None) -> str:
    """The card of ``generator`` (loaded from checkpoint ``step`` of the run in ``logdir``); the notes
    of a card already in ``logdir`` (a shipped generator's) are carried over."""
    from sagan_tf.data.class_names import class_names
    from sagan_tf.runs.run_dir import read_evaluations

    evaluations = [e for e in read_evaluations(logdir, step) if e.get("generator") == generator.name]
    card = model_card(
        cfg, step, generator.name, generator.count_params(), record.read(logdir), evaluations,
        class_names(cfg.data), title, checkpoint,
    )
    existing = Path(logdir) / CARD_FILE
    return with_notes(card, card_notes(existing.read_text()) if existing.is_file() else "")
