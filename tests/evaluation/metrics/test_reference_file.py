"""Reference statistics files: mu and sigma in an .npz (TTUR / clean-fid), written and read back,
and every malformed file refused with one line."""

import numpy as np
import pytest

from sagan_tf.errors import SaganError
from sagan_tf.evaluation.metrics import GaussianStats, frechet_distance, load_reference_stats, save_reference_stats


def test_written_statistics_read_back_and_are_plain_mu_sigma_arrays(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(50, 4))
    stats = GaussianStats.from_features(features)
    path = tmp_path / "sub" / "ref.npz"
    save_reference_stats(path, stats)
    with np.load(path) as f:  # what TTUR's and clean-fid's loaders read
        assert sorted(f.files) == ["count", "mu", "sigma"]
        np.testing.assert_array_equal(f["mu"], features.mean(0))
        np.testing.assert_allclose(f["sigma"], np.cov(features, rowvar=False), rtol=1e-12)
    loaded = load_reference_stats(path, dim=4)
    assert loaded.count == 50 and frechet_distance(loaded, stats) == pytest.approx(0.0, abs=1e-10)
    assert not [p for p in path.parent.iterdir() if p.name != "ref.npz"]  # no temporary file left


def test_a_file_with_only_mu_and_sigma_loads_with_count_zero(tmp_path):
    path = tmp_path / "published.npz"
    np.savez(path, mu=np.ones(3, np.float32), sigma=np.eye(3, dtype=np.float32))
    loaded = load_reference_stats(path, dim=3)
    assert loaded.count == 0 and loaded.mu.dtype == np.float64
    np.testing.assert_array_equal(loaded.sigma, np.eye(3))


@pytest.mark.parametrize("arrays,message", [
    ({"mu": np.zeros(5), "sigma": np.eye(5)}, "dimension 5, the feature model gives 3"),
    ({"mu": np.zeros(3)}, "no sigma"),
    ({"m": np.zeros(3), "s": np.eye(3)}, "no mu and no sigma"),
    ({"mu": np.zeros(3), "sigma": np.eye(2)}, "are not"),
    ({"mu": np.array([0, np.nan, 0]), "sigma": np.eye(3)}, "NaN"),
])
def test_malformed_files_are_one_line_errors(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(SaganError, match=message) as info:
        load_reference_stats(path, dim=3)
    assert "\n" not in str(info.value)


def test_missing_and_non_npz_files(tmp_path):
    with pytest.raises(SaganError, match="not found"):
        load_reference_stats(tmp_path / "nothing.npz")
    text = tmp_path / "notes.npz"
    text.write_text("mu, sigma")
    with pytest.raises(SaganError, match="cannot read"):
        load_reference_stats(text)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(SaganError, match="not an .npz"):
        load_reference_stats(single)
