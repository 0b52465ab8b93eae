"""``compare``: both forms of the ops timed on one config, their first steps compared; a broken fast
form is found out and the reference forms recommended."""

import tensorflow as tf

from sagan_tf.config import load
from sagan_tf.ops import upsample_conv
from sagan_tf.training.compare_ops import AGREEMENT_STEPS, compare

TINY = ["model.ch=4", "model.z_dim=16", "train.batch_size=8", "train.precision=float32"]


def test_the_forms_agree_and_both_are_timed():
    result = compare(load("fashion_mnist32", TINY), tf.distribute.get_strategy(), steps=1, warmup=0)
    assert result.agree and result.largest_difference < 1e-4
    assert len(result.logs["reference"]) == len(result.logs["fast"]) == AGREEMENT_STEPS
    assert set(result.logs["fast"][0]) == {"d_loss", "d_real", "d_fake", "g_loss"}
    assert all(t > 0 for t in result.seconds_per_step.values())
    assert result.recommended in ("fast", "reference")
    assert result.lines()[-1].startswith(f"set model.ops={result.recommended}")


def test_a_broken_fast_form_is_found_out(monkeypatch):
    monkeypatch.setattr(upsample_conv, "FOLD_UP", tuple(reversed(upsample_conv.FOLD_UP)))  # taps in the wrong order
    result = compare(load("fashion_mnist32", TINY), tf.distribute.get_strategy(), steps=1, warmup=0)
    assert not result.agree and result.largest_difference > result.tolerance
    assert result.recommended == "reference"
    assert "DIFFER" in result.lines()[2] and "do not agree" in result.lines()[3]
