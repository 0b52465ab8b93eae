"""Old import paths of moved modules work for one release, with one FutureWarning naming the new path."""

import importlib
import sys

import pytest

MOVED = {
    "sagan_tf.training.distribute": "sagan_tf.cluster.distribute",
    "sagan_tf.training.slurm": "sagan_tf.cluster.slurm_tf_config",
    "sagan_tf.training.kubernetes": "sagan_tf.cluster.kubernetes_tf_config",
    "sagan_tf.training.interrupts": "sagan_tf.interrupts",
    "sagan_tf.training.run_dir": "sagan_tf.runs.run_dir",
    "sagan_tf.training.checkpointing": "sagan_tf.runs.checkpointing",
    "sagan_tf.training.record": "sagan_tf.runs.record",
    "sagan_tf.evaluation.metrics.kid": "sagan_tf.evaluation.metrics.kernel_distance",
    "sagan_tf.explore.generators": "sagan_tf.serving.generators",
    "sagan_tf.layers.resample": "sagan_tf.ops.resample",
    "sagan_tf.layers.scale_shift_relu": "sagan_tf.ops.scale_shift_relu",
    "sagan_tf.layers.channel_sums": "sagan_tf.ops.channel_sums",
    "sagan_tf.pretrained.build": "sagan_tf.serving.pretrained",
}


@pytest.mark.parametrize("old,new", MOVED.items())
def test_an_old_path_gives_the_new_modules_names_and_says_where(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(FutureWarning, match=f"^{old} has moved to {new}; import that instead") as caught:
        module = importlib.import_module(old)
    assert len(caught) == 1
    target = importlib.import_module(new)
    public = [name for name in vars(target) if not name.startswith("_")]
    assert public and all(getattr(module, name) is getattr(target, name) for name in public)


def test_the_renamed_names_keep_their_old_meaning():
    from sagan_tf.runs.best import LEGACY_DIR
    from sagan_tf.serving.generators import TrainedGenerator
    from sagan_tf.serving.sources import version_directory

    with pytest.warns(FutureWarning):
        sys.modules.pop("sagan_tf.explore.generators", None)
        from sagan_tf.explore.generators import Generator
        from sagan_tf.explore.generators import version_directory as old_version_directory
        sys.modules.pop("sagan_tf.training.run_dir", None)
        from sagan_tf.training.run_dir import BEST_DIR
    assert Generator is TrainedGenerator and old_version_directory is version_directory and BEST_DIR == LEGACY_DIR == "best_fid"


def test_the_folded_kernel_functions_keep_their_old_meaning():
    """``layers.folded_conv`` took folded 4x4 kernels; its functions equal the ops' reference forms."""
    import numpy as np

    from sagan_tf.ops.conv_avgpool import reference_conv3x3_avgpool
    from sagan_tf.ops.upsample_conv import reference_upsample_conv3x3

    sys.modules.pop("sagan_tf.layers.folded_conv", None)
    with pytest.warns(FutureWarning, match="^sagan_tf.layers.folded_conv has moved to sagan_tf.ops.upsample_conv"):
        folded_conv = importlib.import_module("sagan_tf.layers.folded_conv")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 6, 3)).astype(np.float32)
    kernel = rng.normal(size=(3, 3, 3, 5)).astype(np.float32)
    np.testing.assert_allclose(folded_conv.upsample_conv3x3(x, folded_conv.fold_nearest_upsample(kernel)),
                               reference_upsample_conv3x3(x, kernel), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(folded_conv.conv3x3_avgpool(x, folded_conv.fold_avgpool(kernel)),
                               reference_conv3x3_avgpool(x, kernel), rtol=1e-5, atol=1e-5)


def test_the_removed_optimizations_module_names_its_replacement():
    sys.modules.pop("sagan_tf.layers.optimizations", None)
    with pytest.raises(ImportError, match="^sagan_tf.layers.optimizations is gone: .*config key model.ops"):
        importlib.import_module("sagan_tf.layers.optimizations")
