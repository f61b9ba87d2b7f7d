import numpy as np
import pytest
import scipy.linalg

from genomekit.metrics.frechet import FeatureStats, frechet_distance, frechet_distance_from_stats


def test_stats_of_shards_add_up_to_the_stats_of_the_whole():
    x = np.random.default_rng(0).normal(size=(300, 5))
    whole = FeatureStats.from_features(x)
    parts = (
        FeatureStats.from_features(x[:7]) + FeatureStats.from_features(x[7:150]) + FeatureStats.from_features(x[150:])
    )
    assert parts.count == 300
    np.testing.assert_allclose(parts.total, whole.total, rtol=1e-12)
    np.testing.assert_allclose(parts.outer, whole.outer, rtol=1e-12)
    mu, sigma = parts.mean_cov()
    np.testing.assert_allclose(mu, x.mean(0), atol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), atol=1e-12)


def test_diagonal_gaussians_match_the_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-10)


def test_full_covariances_match_scipy_sqrtm_and_identical_is_zero():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    s1, s2 = a @ a.T + 0.1 * np.eye(8), b @ b.T + 0.1 * np.eye(8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    reference = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(scipy.linalg.sqrtm(s1 @ s2)))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-8)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-9)


def test_samples_from_the_same_gaussian_are_close_and_a_shift_adds_its_squared_norm():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(20000, 3)), rng.normal(size=(20000, 3))
    same = frechet_distance_from_stats(FeatureStats.from_features(x), FeatureStats.from_features(y))
    shifted = frechet_distance_from_stats(FeatureStats.from_features(x), FeatureStats.from_features(y + 2.0))
    assert same < 0.01
    assert shifted == pytest.approx(12.0, rel=0.02)


def test_save_load_round_trip(tmp_path):
    stats = FeatureStats.from_features(np.random.default_rng(4).normal(size=(10, 4)))
    stats.save(tmp_path / "s.npz")
    loaded = FeatureStats.load(tmp_path / "s.npz")
    assert loaded.count == 10
    np.testing.assert_array_equal(loaded.outer, stats.outer)
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temporary file left behind


def test_mismatched_widths_and_too_few_samples_are_refused():
    with pytest.raises(ValueError, match="cannot add"):
        FeatureStats.empty(3) + FeatureStats.empty(4)
    with pytest.raises(ValueError, match="at least 2"):
        FeatureStats.from_features(np.ones((1, 3))).mean_cov()
