"""Tiny configs, batches and weight copies for tests of the networks and the GAN step."""

import numpy as np
import tensorflow as tf

from sagan_tf.config import Config


def tiny_config(**train) -> Config:
    cfg = Config()
    cfg.data.channels = 1
    cfg.data.num_classes = 4
    cfg.model.ch = 4
    cfg.model.z_dim = 16
    cfg.model.sync_bn = True
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def fake_batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (n, 32, 32, 1)).astype(np.float32)
    labels = rng.integers(0, 4, n).astype(np.int32)
    return images, labels


def copy_weights(src, dst):
    for a, b in zip(src.variables, dst.variables, strict=True):
        assert a.path == b.path
        b.assign(a.numpy())


def batches(n=8, seed=0):
    return tf.data.Dataset.from_tensors(fake_batch(n, seed)).repeat()


def copy_networks(src, dst):
    copy_weights(src.generator, dst.generator)
    copy_weights(src.discriminator, dst.discriminator)


def model_and_reference_logits(cfg: Config):
    """A SAGAN of ``cfg``, a copy with its weights, a fake batch, and the copy's D logits on the real
    images and on G's images of ``model.noise(8, 0)`` (the z of the model's first D update), with the
    moving statistics untouched: ``(model, reference, images, labels, real_logits, fake_logits)``."""
    import keras

    from sagan_tf.layers.running_state import frozen_state
    from sagan_tf.training.builders import build_sagan

    keras.utils.set_random_seed(0)
    model, reference = build_sagan(cfg), build_sagan(cfg)
    copy_networks(model, reference)
    images, labels = fake_batch()
    with frozen_state():
        fake = reference.generator((model.noise(8, 0), labels), training=True)
    logits = reference.discriminator((tf.concat([images, fake], 0), tf.concat([labels, labels], 0)), training=True)
    return model, reference, images, labels, logits[:8].numpy(), logits[8:].numpy()


def randomize_generator(g, rng):
    """Class-dependent CBN parameters and a non-zero attention gamma, so that both matter."""
    for block in g.blocks:
        for cbn in (block.bn1, block.bn2):
            shape = tuple(cbn.gamma.embeddings.shape)
            cbn.gamma.embeddings.assign((1.0 + 0.3 * rng.normal(size=shape)).astype(np.float32))
            cbn.beta.embeddings.assign((0.3 * rng.normal(size=shape)).astype(np.float32))
    for att in g.attention_layers:
        att.gamma.assign(0.5)


def randomize_discriminator(d, rng):
    for att in d.attention_layers:
        att.gamma.assign(0.8)
    if d.embedding is not None:
        e = d.embedding.layer.embeddings
        e.assign(rng.normal(size=tuple(e.shape)).astype(np.float32))
    d.linear.layer.bias.assign(np.array([0.37], np.float32))


def precision_config(precision: str) -> Config:
    cfg = Config()
    cfg.data.channels = 1
    cfg.data.num_classes = 4
    cfg.model.ch = 4
    cfg.model.z_dim = 16
    cfg.train.batch_size = 8
    cfg.train.precision = precision
    return cfg
