"""``--strategy tpu --tpu NAME`` on a machine without a TPU: the arguments, the resolver's call path
with stand-ins for TensorFlow's TPU functions, the one line when no TPU answers, and what the trainer
decides for a TPU strategy (precision, the batch per core). Nothing here has run on a TPU."""

import pytest
import tensorflow as tf

from sagan_tf import config as config_lib
from sagan_tf.cluster import distribute
from sagan_tf.errors import ConfigError
from sagan_tf.trainer.precision import resolve_precision
from tests.cluster.test_slurm_tf_config import one_error_line
from tests.helpers.cli import run_cli


class FakeTPUStrategy(tf.distribute.TPUStrategy):
    """A TPUStrategy of 8 cores that never touches a TPU (its base ``__init__`` would)."""

    def __init__(self, resolver=None):  # noqa: D107 - no TPU to connect to
        self.resolver = resolver

    @property
    def num_replicas_in_sync(self):
        return 8


@pytest.fixture
def tpu_calls(monkeypatch):
    """Replaces TensorFlow's TPU entry points by recorders; yields the list of calls made."""
    calls = []

    class Resolver:
        def __init__(self, tpu):
            calls.append(("resolver", tpu))

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", Resolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: calls.append(("connect", r)))
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", lambda r: calls.append(("initialize", r)))
    monkeypatch.setattr(tf.distribute, "TPUStrategy", lambda r: calls.append(("strategy", r)) or FakeTPUStrategy(r))
    return calls


def test_the_tpu_is_resolved_connected_and_initialized_before_the_strategy_is_built(tpu_calls):
    strategy = distribute.make_strategy("tpu", "my-tpu")
    assert [name for name, _ in tpu_calls] == ["resolver", "connect", "initialize", "strategy"]
    assert tpu_calls[0][1] == "my-tpu"
    resolver = tpu_calls[1][1]
    assert all(arg is resolver for _, arg in tpu_calls[1:]) and strategy.resolver is resolver


@pytest.mark.parametrize(
    "error, line",
    [
        (ValueError("Please provide a TPU Name to connect to.\nmore"), "cannot connect to TPU 'my-tpu': Please provide a TPU Name to connect to."),
        (tf.errors.NotFoundError(None, None, "TPUs not found in the cluster"), "cannot connect to TPU 'my-tpu': TPUs not found in the cluster"),
    ],
)
def test_a_tpu_that_does_not_answer_is_one_config_error(tpu_calls, monkeypatch, error, line):
    def fail(resolver):
        raise error

    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", fail)
    with pytest.raises(ConfigError) as raised:
        distribute.make_strategy("tpu", "my-tpu")
    assert str(raised.value) == line


def test_without_a_tpu_name_the_strategy_says_what_to_pass():
    with pytest.raises(ConfigError, match=r"--strategy tpu needs --tpu \(a TPU name, grpc:// address or 'local'\)"):
        distribute.make_strategy("tpu", None)


def test_the_global_batch_is_split_over_the_cores_and_must_divide():
    assert distribute.check_global_batch(256, FakeTPUStrategy()) == 32
    with pytest.raises(ConfigError, match="global batch size 100 is not divisible by the 8 replicas"):
        distribute.check_global_batch(100, FakeTPUStrategy())


def test_auto_precision_on_a_tpu_is_bfloat16_and_the_tpu_is_one_writer(capsys):
    cfg = config_lib.load("configs/fashion_mnist32.yaml", ["train.precision=auto"])
    assert resolve_precision(cfg, FakeTPUStrategy()) == "auto"
    assert cfg.train.precision == "mixed_bfloat16"
    assert capsys.readouterr().err.strip() == "precision auto: mixed_bfloat16 (TPU)"
    assert distribute.is_chief(FakeTPUStrategy()) and not distribute.is_multi_client(FakeTPUStrategy())


def test_on_a_machine_without_a_tpu_the_trainer_stops_with_one_line_and_writes_nothing(tmp_path):
    run = tmp_path / "run"
    result = run_cli("sagan_tf.train", "--config", "fashion_mnist32", "--logdir", str(run), "--strategy", "tpu", "--tpu", "local")
    assert one_error_line(result).startswith("error: cannot connect to TPU 'local': TPUs not found in the cluster.")
    assert not run.exists() or not any(p.name != "trainer.lock" for p in run.iterdir())


def test_tpu_flags_outside_their_strategy_are_usage_errors(tmp_path):
    result = run_cli("sagan_tf.train", "--config", "fashion_mnist32", "--logdir", str(tmp_path / "r"), "--tpu", "local")
    assert one_error_line(result) == "error: --tpu needs --strategy tpu (see sagan-train --help)"
