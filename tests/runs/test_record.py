"""``training.json``: one session per start, kept current with the checkpoints on disk only."""

import json

import pytest
import tensorflow as tf

from sagan_tf.runs import record


class FakeModel:
    def __init__(self, step):
        self.step = tf.Variable(step, dtype=tf.int64)


class FakeCheckpoints:
    """What ``TrainingRecord`` reads of ``PeriodicCheckpoint``: the last step it saved."""

    def __init__(self):
        self.last_saved = None


def run_session(logdir, start, saves, session=None):
    checkpoints = FakeCheckpoints()
    callback = record.TrainingRecord(logdir, checkpoints, session or {"precision": "float32"})
    model = FakeModel(start)
    callback.set_model(model)
    checkpoints.last_saved = start
    callback.on_train_begin()
    for step, saved in saves:
        model.step.assign(step)
        if saved:
            checkpoints.last_saved = step
        callback.on_train_batch_end(step)
    callback.on_train_end()
    return record.read(logdir)


def test_a_session_counts_only_saved_steps_and_a_resume_appends_one(tmp_path):
    assert run_session(tmp_path, 0, [(1, False)]) == []  # nothing saved: nothing written
    sessions = run_session(tmp_path, 0, [(1, False), (2, True), (3, False)])  # step 3 diverged: not saved
    assert [(s["start_step"], s["end_step"]) for s in sessions] == [(0, 2)]
    sessions = run_session(tmp_path, 2, [(3, False), (4, True)], {"precision": "mixed_bfloat16"})
    assert [(s["start_step"], s["end_step"], s["precision"]) for s in sessions] == [
        (0, 2, "float32"), (2, 4, "mixed_bfloat16")]
    assert all(s["seconds"] >= 0 for s in sessions)
    totals = record.totals(sessions)
    assert totals["steps"] == 4 and totals["precisions"] == ["float32", "mixed_bfloat16"]
    on_disk = json.loads((tmp_path / record.RECORD_FILE).read_text())
    assert on_disk["sessions"] == sessions


def test_an_unreadable_record_is_treated_as_empty(tmp_path):
    (tmp_path / record.RECORD_FILE).write_text("{not json")
    assert record.read(tmp_path) == []


@pytest.mark.parametrize("hw, text", [
    ({"cpu": "AMD EPYC 7B13", "vcpus": 2, "gpus": [], "tpu": False}, "2 vCPUs, AMD EPYC 7B13"),
    ({"cpu": "x", "vcpus": 96, "gpus": ["NVIDIA A100"] * 8, "tpu": False}, "8 x NVIDIA A100"),
    ({"cpu": "x", "vcpus": 96, "gpus": [], "tpu": True}, "TPU"),
])
def test_hardware_is_described_in_one_phrase(hw, text):
    assert record.describe_hardware(hw) == text


def test_cpu_model_is_read_from_cpuinfo(tmp_path):
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: AMD EPYC 9B14\nflags\t: fpu\n")
    assert record.cpu_model(tmp_path / "cpuinfo") == "AMD EPYC 9B14"


def test_cpu_model_names_family_model_and_bfloat16_instructions_of_the_first_processor(tmp_path):
    block = ("processor\t: {}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
             "model name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    (tmp_path / "cpuinfo").write_text(block.format(0) + "\n" + block.format(1).replace("17", "99"))
    assert record.cpu_model(tmp_path / "cpuinfo") == "AMD EPYC (family 25 model 17, AVX512-BF16)"
    intel = "cpu family\t: 6\nmodel\t\t: 143\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t: avx512_bf16 amx_bf16 amx_tile\n"
    (tmp_path / "cpuinfo").write_text(intel)
    assert record.cpu_model(tmp_path / "cpuinfo") == "Intel(R) Xeon(R) Processor (family 6 model 143, AMX-BF16, AVX512-BF16)"
