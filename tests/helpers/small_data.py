"""DiffAugment with ADA and LeCam as the command-line tests run them, and the check of what such a run
logged against ADA's rule and its checkpoint."""

import numpy as np
import pytest

# ADA adjusts p every 2 steps by +-(2 steps x 2 D updates x 8 images) / 1000 = 0.032 from 0.3.
ADA_LECAM = ("augment.policy=color,translation,cutout", "augment.probability=0.3", "augment.ada_target=0.6",
             "augment.ada_interval=2", "augment.ada_kimg=1", "train.lecam_weight=0.1")


def check_logged_regularization(scalars, checkpoint, steps, tolerance) -> float:
    """The ``ADA_LECAM`` run's augment_p, ada_rt and LeCam anchors, logged at steps 1..``steps``: at
    ``steps`` equal to ``checkpoint``'s variables (float32 both), and p following ADA's rule from
    p = 0.3 for the logged r_t: every 2 steps (of 2 D updates of 8 real images: 32 signs, so r_t is a
    multiple of 1/32), p <- clip(p + sign(r_t - 0.6) * 32 / 1000, 0, 1), within ``tolerance``.
    Returns the last p."""
    for name in ("augment_p", "ada_rt", "lecam_anchor_real", "lecam_anchor_fake"):
        assert sorted(scalars[name]) == list(range(1, steps + 1)), name
        assert scalars[name][steps] == checkpoint[f"regularization/{name}/.ATTRIBUTES/VARIABLE_VALUE"], name
    p, rt, moves = 0.3, 0.0, 0
    for s in range(1, steps + 1):
        if s % 2 == 0:
            rt = scalars["ada_rt"][s]
            assert rt * 32 == round(rt * 32), (s, rt)
            p = min(max(p + np.sign(rt - 0.6) * 32 / 1000, 0.0), 1.0)
            moves += 1
        assert scalars["ada_rt"][s] == rt, s  # kept between adjustments
        assert scalars["augment_p"][s] == pytest.approx(p, abs=tolerance), s
    assert moves == steps // 2
    return p
