"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020): ``diffaugment``."""

from sagan_tf.augment.diffaugment import STAGES, augment, draw, slice_draws

__all__ = ["STAGES", "augment", "draw", "slice_draws"]
