"""The names ``import sagan_tf`` offers: imported on first use, so that the import itself loads
neither TensorFlow nor Keras, and each one the object its module defines."""

import pytest

import sagan_tf
from tests.test_layout import run_python

PUBLIC = {
    "load_config": "sagan_tf.config.load", "Config": "sagan_tf.config.Config", "Trainer": "sagan_tf.trainer.trainer.Trainer",
    "load_generator": "sagan_tf.serving.generators.load_generator",
    "TrainedGenerator": "sagan_tf.serving.generators.TrainedGenerator",
    "evaluate": "sagan_tf.evaluation.evaluate.evaluate", "export": "sagan_tf.serving.export.export",
    "build_sagan": "sagan_tf.training.builders.build_sagan", "build_generator": "sagan_tf.training.builders.build_generator",
    "build_discriminator": "sagan_tf.training.builders.build_discriminator",
    "make_dataset": "sagan_tf.data.pipeline.make_dataset", "SAGAN": "sagan_tf.training.gan.SAGAN",
    "Generator": "sagan_tf.models.resnet.Generator", "Discriminator": "sagan_tf.models.resnet.Discriminator",
    "DCGANGenerator": "sagan_tf.models.dcgan.DCGANGenerator", "DCGANDiscriminator": "sagan_tf.models.dcgan.DCGANDiscriminator",
    "SpectralNormalization": "sagan_tf.layers.spectral_norm.SpectralNormalization",
    "SelfAttention": "sagan_tf.layers.attention.SelfAttention",
    "ConditionalBatchNormalization": "sagan_tf.layers.cond_bn.ConditionalBatchNormalization",
}


def test_importing_the_package_imports_neither_tensorflow_nor_keras(tmp_path):
    result = run_python(
        "import sys\n"
        "import sagan_tf\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, sorted(sys.modules)\n"
        "assert set(sagan_tf.__all__) <= set(dir(sagan_tf))\n"
        "cfg = sagan_tf.load_config('fashion_mnist32', ['model.ch=8'])\n"
        "trainer = sagan_tf.Trainer(cfg, 'runs/x')\n"
        "assert cfg.model.ch == 8 and 'tensorflow' not in sys.modules\n"
        "print(sagan_tf.__version__)\n",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == sagan_tf.__version__


def test_every_public_name_resolves_to_its_module_s_object():
    assert sorted(sagan_tf.__all__) == sorted([*PUBLIC, "__version__"])
    for name, where in PUBLIC.items():
        value = getattr(sagan_tf, name)
        assert f"{value.__module__}.{value.__qualname__}" == where, name
    assert "train" not in sagan_tf.__all__  # sagan_tf.train is ``python -m sagan_tf.train``, the launcher
    with pytest.raises(AttributeError, match="module 'sagan_tf' has no attribute 'Trainr'"):
        sagan_tf.Trainr  # noqa: B018
