"""``evaluate`` from Python: the source is a run, an export or a shipped generator, the options are
``sagan-evaluate``'s flags, and a mistake is one ``SaganError`` line before any image is generated
(the numbers against independent computations: ``tests/cli/test_evaluate.py``)."""

import pytest

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.evaluate import EvaluationOptions, evaluate
from tests.helpers.exports import make_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("evaluate") / "run")


@pytest.mark.parametrize("source, options, message", [
    ("run", dict(metrics="fid,lpips"), "--metrics must be a comma-separated subset of"),
    ("run", dict(metrics=["fid", "kid"], num_samples=1), "KID needs at least 2 samples"),
    ("run", dict(version=1), "--version goes with --model EXPORT_DIR"),
    ("run", dict(reference_stats="a.npz", save_reference_stats="b.npz"), "--save-reference-stats is not allowed with"),
    ("run", dict(checkpoint="/nonexistent/ckpt-3"), "checkpoint /nonexistent/ckpt-3 not found"),
    ("pretrained:fashion_mnist32", dict(truncation=-1.0), "--truncation must be >= 1e-06 (inf: no truncation), got -1"),
    ("nowhere", {}, "nowhere is not a directory: give a training run, an export or a shipped generator"),
])
def test_a_mistake_is_one_line_before_any_image(run, tmp_path, source, options, message):
    with pytest.raises(SaganError) as raised:
        evaluate(run.logdir if source == "run" else source, **options)
    assert len(str(raised.value).splitlines()) == 1 and str(raised.value).startswith(message), str(raised.value)
    assert not (run.logdir / "evaluations").exists()


def test_the_options_are_the_flags_of_sagan_evaluate(run):
    with pytest.raises(TypeError, match="unexpected keyword argument 'num_sample'"):
        evaluate(run.logdir, num_sample=10)
    defaults = EvaluationOptions()
    assert (defaults.metrics, defaults.num_samples, defaults.resize, defaults.seed) == ("is,fid", 50000, "tf", 0)
