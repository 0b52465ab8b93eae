"""``model.ops``: parsing, the form each op runs in training and inference, and what ``auto`` decides."""

import pytest

from sagan_tf import ops_choice
from sagan_tf.config import load
from sagan_tf.errors import ConfigError
from sagan_tf.ops_choice import OPS, OpChoice, parse


def test_reference_fast_and_lists_round_trip_through_their_text():
    assert parse("reference") == OpChoice() and str(OpChoice()) == "reference"
    assert parse("fast").fast == frozenset(OPS) and str(parse("fast")) == "fast"
    some = parse(" batch_norm , upsample_conv ")
    assert some.fast == {"upsample_conv", "batch_norm"}
    assert str(some) == "upsample_conv,batch_norm"  # the order of OPS
    assert parse(str(some)) == some == parse(["batch_norm", "upsample_conv"])


def test_the_training_only_forms_run_their_reference_form_in_inference():
    fast = parse("fast")
    for op in OPS:
        assert fast.impl(op, training=True) == "fast"
        assert fast.impl(op, training=False) == ("reference" if op in ops_choice.TRAINING_ONLY else "fast")
        assert parse("reference").impl(op, training=True) == "reference"
    with pytest.raises(ValueError, match="unknown op 'folding'"):
        fast.impl("folding")


def test_auto_is_fast_on_cpus_and_reference_on_gpus_and_tpus():
    assert ops_choice.resolve("auto") == (parse("fast"), "CPU: the fast forms were measured faster there")
    for kwargs in ({"gpus": True}, {"tpu": True}):
        choice, reason = ops_choice.resolve("auto", **kwargs)
        assert choice == OpChoice() and "--compare-ops" in reason
    assert ops_choice.resolve("upsample_conv") == (parse("upsample_conv"), None)  # explicit: kept, no line
    with pytest.raises(ValueError, match="resolved for the hardware"):
        parse("auto")


@pytest.mark.parametrize("value", ["fastest", "upsample_conv,fold", ","])
def test_a_bad_setting_is_one_config_error(value):
    with pytest.raises(ConfigError, match=r"^config key 'model.ops': .*model.ops is auto, reference, fast or a comma"):
        load("fashion_mnist32", [f"model.ops={value}"])
    assert load("fashion_mnist32").model.ops == "auto"
