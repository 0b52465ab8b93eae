"""Training callbacks that measure and show the generator: FID / IS, the best checkpoints, attention maps.

* ``FIDMonitor`` every ``log.fid_every`` steps: ``log.fid_samples`` class-balanced samples of the
  sampling generator (the EMA when there is one), in the feature space of the config's ``eval``
  feature model (a domain classifier when the run names one, else Inception), and the metrics of
  ``log.fid_metrics``: FID against the cached reference statistics of the training data; when the
  feature model has logits, the Inception Score; KID (Binkowski et al. 2018: unbiased, so usable
  at a few thousand samples) and precision/recall/density/coverage against the features of the
  first ``log.fid_samples`` real images (as many real as generated, as Kynkaanniemi et al. and
  Naeem et al. compare them), with ``FeatureSetOptions``' defaults (KID: 100 subsets of 1000;
  k = 3 and 5). TensorBoard scalars under the metrics' names (``fid``, ``is``, ``kid``, ...).
  With ``log.per_class`` in a class-conditional run, also intra-FID and those k-NN metrics class
  by class (``per_class/METRIC/C_NAME``) and how the weakest class compares with the median class
  (``weakest_class/*``, ``metrics.per_class``).
  Each measurement is offered to ``runs.best.BestCheckpoints``: a value of ``log.best_metric``
  among the ``log.keep_best`` best so far keeps G (and its EMA, and D) in ``LOGDIR/best`` beside
  the latest checkpoints, in its ledger ``best.json``; a resumed run goes on with the recorded ones.
  A signal stops the measurement where it is (``training.loop``); a best checkpoint and the ledger
  naming it are written together or not at all.
* ``AttentionImages`` every ``log.attention_every`` steps: the attention picture of
  ``sagan-visualize`` for fixed z (G's last attention layer, and D's on the same samples).
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.metrics.per_class import class_scalars
from sagan_tf.layers.attention import SelfAttention
from sagan_tf.runs.best import BestCheckpoints, describe_best
from sagan_tf.tracking.tracker import as_tracker


class FIDMonitor(keras.callbacks.Callback):
    """FID (and IS) of the sampling generator every ``every`` steps; see the module docstring."""

    def __init__(self, writer, every: int, num_samples: int, extractor, reference_fn, num_classes: int,
                 best: BestCheckpoints | None = None, batch_size: int = 100, is_splits: int = 10,
                 metrics=("fid", "is"), per_class: bool = False, class_names=None):
        from sagan_tf.evaluation.metrics.statistics import FEATURE_SET_METRICS, FeatureSetOptions

        super().__init__()
        self.tracker, self.every, self.num_samples = as_tracker(writer), every, num_samples
        self.extractor, self.reference_fn, self.reference = extractor, reference_fn, None
        self.num_classes, self.best, self.batch_size, self.is_splits = num_classes, best, batch_size, is_splits
        self.metrics, self.options = list(metrics), FeatureSetOptions()
        self.keep_features = any(m in FEATURE_SET_METRICS for m in self.metrics)
        self.per_class, self.per_class_knn, self.class_names = per_class and num_classes > 0, True, class_names
        self.history: list[tuple[int, dict]] = []

    def on_train_begin(self, logs=None):
        if self.reference is None:
            self.reference = self.reference_fn()
        if self.keep_features:
            least = max(self.options.k_pr, self.options.k_dc) + 1
            have = 0 if self.reference.features is None else len(self.reference.features)
            if have < least:
                raise SaganError(f"log.fid_metrics {','.join(self.metrics)} need at least {least} real images, "
                                 f"the reference split has {have} (eval.num_real, eval.split)")

    def on_train_batch_end(self, batch, logs=None):
        from sagan_tf.evaluation.metrics.statistics import compute_metrics, generated_statistics

        step = int(self.model.step.numpy())
        if step % self.every:
            return
        stats = generated_statistics(
            self.model.sampling_generator, self.extractor, self.num_samples, self.num_classes,
            per_class=self.per_class, batch_size=self.batch_size, keep_features=self.keep_features,
        )
        names = [m for m in self.metrics if m != "is" or stats.logits is not None]
        values = compute_metrics(names, stats, self.reference, self.is_splits, self.options)
        scalars = {name: values[name] for name in names}
        if self.per_class:
            values.update(self.class_values(names, stats))
            scalars.update(class_scalars(values))
        self.history.append((step, values))
        self.tracker.scalars(step, scalars)
        if self.best is not None and self.best.offer(step, {**values, **scalars}):  # per_class/recall/8_Bag too
            ledger = self.best.ledger
            print(f"step {step}: kept in {self.best.directory} ({describe_best(ledger)})", file=sys.stderr)

    def class_values(self, names: list[str], stats) -> dict:
        """Intra-FID and the k-NN metrics of ``names`` class by class (``per_class.class_report``).
        A class with too few real images among the first ``log.fid_samples`` of the reference
        turns the per-class k-NN metrics off (intra-FID, from all ``eval.num_real``, stays), and
        one without real images all per-class metrics, each with one warning."""
        from sagan_tf.evaluation.metrics.statistics import per_class_report

        while True:
            wanted = ["intra_fid", *(names if self.per_class_knn else [])]
            try:
                return per_class_report(wanted, stats, self.reference, self.options, self.class_names)
            except ValueError as e:
                if self.per_class_knn:
                    self.per_class_knn = False
                    print(f"warning: per-class k-NN metrics off ({e}): raise log.fid_samples", file=sys.stderr)
                    continue
                print(f"warning: no per-class metrics ({e}); set log.per_class: false", file=sys.stderr)
                self.per_class = False
                return {}


class AttentionImages(keras.callbacks.Callback):
    """Attention pictures (G's last layer; D's on the same samples) every ``every`` steps."""

    def __init__(self, writer, every: int, z, labels, scale: int = 3):
        super().__init__()
        self.tracker, self.every, self.z, self.labels, self.scale = as_tracker(writer), every, z, labels, scale

    def on_train_batch_end(self, batch, logs=None):
        from sagan_tf.evaluation.attention import attention_picture

        step = int(self.model.step.numpy())
        if step % self.every:
            return
        pictures = {}
        generator = self.model.sampling_generator
        if has_self_attention(generator):
            picture, result = attention_picture(generator, self.z, self.labels, scale=self.scale)
            pictures[f"attention/{result.layer}"] = picture
        if has_self_attention(self.model.discriminator):
            picture, result = attention_picture(
                generator, self.z, self.labels, network="d", discriminator=self.model.discriminator, scale=self.scale
            )
            pictures[f"attention/{result.layer}"] = picture
        self.tracker.images(step, pictures)


def has_self_attention(network) -> bool:
    """Whether ``network`` has a self-attention layer (not only its residual substitute)."""
    return any(isinstance(layer, SelfAttention) for layer in network.attention_layers)


def evaluation_callbacks(cfg, model, writer, logdir: Path, data_dir=None) -> list[keras.callbacks.Callback]:
    """The callbacks ``log.attention_every`` and ``log.fid_every`` ask for (chief only)."""
    out: list[keras.callbacks.Callback] = []
    log, ev = cfg.log, cfg.eval
    if log.attention_every and (has_self_attention(model.generator) or has_self_attention(model.discriminator)):
        rows = min(cfg.data.num_classes, 4) or 4
        labels = tf.constant(np.arange(rows, dtype=np.int32) % max(cfg.data.num_classes, 1))
        z = tf.random.stateless_normal([rows, cfg.model.z_dim], seed=[4321, 0])
        out.append(AttentionImages(writer, log.attention_every, z, labels))
    if log.fid_every:
        from sagan_tf.evaluation.metrics.feature_model import load_extractor
        from sagan_tf.evaluation.metrics.statistics import FEATURE_SET_METRICS, reference_statistics

        extractor = load_extractor(ev.feature_model, ev.inception_weights)
        keep = log.fid_samples if any(m in FEATURE_SET_METRICS for m in log.fid_metrics) else False

        def reference():
            return reference_statistics(
                cfg.data, extractor, ev.split or cfg.data.split, ev.num_real, per_class, ev.batch_size, data_dir,
                ev.stats_cache, keep_features=keep,
            )

        from sagan_tf.data.class_names import class_names

        per_class = log.per_class and cfg.data.num_classes > 0
        names = class_names(cfg.data, data_dir) if per_class else None
        best = BestCheckpoints(model, logdir, log.best_metric, log.keep_best)
        out.append(FIDMonitor(writer, log.fid_every, log.fid_samples, extractor, reference, cfg.data.num_classes,
                              best, ev.batch_size, ev.is_splits, log.fid_metrics, per_class, names))
    return out
