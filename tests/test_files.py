"""``sagan_tf.files``: two writers of one path never write into the same temporary file."""

import threading

import numpy as np

from sagan_tf import files


def test_interleaved_writers_of_one_path_each_leave_a_complete_file(tmp_path):
    """Two writes of one path in one process (threads; or processes with equal ids in containers on
    shared storage) alternate chunk by chunk: the result is the complete file of the last to finish."""
    path = tmp_path / "stats.npz"
    a, b = b"A" * 4096, b"B" * 4096
    with files.atomic_path(path) as tmp_a, open(tmp_a, "wb") as fa:
        with files.atomic_path(path) as tmp_b, open(tmp_b, "wb") as fb:
            for i in range(0, 4096, 1024):
                fa.write(a[i : i + 1024])
                fa.flush()
                fb.write(b[i : i + 1024])
                fb.flush()
        assert path.read_bytes() == b
    assert path.read_bytes() == a
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.npz"]


def test_reference_statistics_written_by_two_threads_at_once_are_one_writers(tmp_path):
    from sagan_tf.evaluation.metrics.fid import GaussianStats
    from sagan_tf.evaluation.metrics.statistics import Statistics, load_statistics, save_statistics

    path = tmp_path / "cache.npz"
    rng = np.random.default_rng(0)
    versions = [rng.standard_normal((256, 256)) for _ in range(2)]
    errors = []

    def write(sigma):
        try:
            for _ in range(20):
                save_statistics(path, Statistics(GaussianStats(sigma[0], sigma, 7), {}), "key")
        except Exception as e:  # noqa: BLE001 - the test reports any failure of a writer
            errors.append(e)

    threads = [threading.Thread(target=write, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stats = load_statistics(path, "key")
    assert any(np.array_equal(stats.overall.sigma, v) and np.array_equal(stats.overall.mu, v[0]) for v in versions)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.npz"]
