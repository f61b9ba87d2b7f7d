import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from genomekit.metrics.disentanglement import (
    dci,
    dci_from_importance,
    discretize,
    entropy,
    mig,
    mutual_information_matrix,
    sap,
    sap_score_matrix,
)


def test_mutual_information_matches_sklearn():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 6, (500, 4))
    factors = np.stack([codes[:, 1] % 2, rng.integers(0, 3, 500)], 1)
    ours = mutual_information_matrix(codes, factors)
    for k in range(4):
        for a in range(2):
            assert ours[k, a] == pytest.approx(mutual_info_score(factors[:, a], codes[:, k]), abs=1e-12)
    np.testing.assert_allclose(entropy(factors), [mutual_info_score(f, f) for f in factors.T], atol=1e-12)


def test_discretize_uses_equal_width_bins():
    x = np.array([[0.0], [0.49], [0.51], [1.0]])
    assert discretize(x, 2)[:, 0].tolist() == [1, 1, 2, 2]


def informative_codes(n=4000, seed=0):
    """Factor a is a threshold of code dimension a (a = 0, 1); dimensions 2..5 are noise."""
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(n, 6))
    factors = np.stack([codes[:, 0] > 0.3, codes[:, 1] < -0.2], 1).astype(np.int64)
    return codes, factors


def test_mig_is_high_for_axis_aligned_factors_and_low_for_noise():
    codes, factors = informative_codes()
    score, gaps = mig(codes, factors)
    assert score > 0.7 and gaps.shape == (2,)
    noise = np.random.default_rng(1).integers(0, 2, (4000, 2))
    assert mig(codes, noise)[0] < 0.01
    # A constant factor has no entropy: its gap is NaN and it is left out of the mean.
    with_constant = np.concatenate([factors, np.zeros((4000, 1), np.int64)], 1)
    score2, gaps2 = mig(codes, with_constant)
    assert np.isnan(gaps2[2]) and score2 == pytest.approx(score)


def test_mig_on_genes_uses_the_gene_index_directly():
    rng = np.random.default_rng(2)
    genes = rng.integers(0, 16, (5000, 5))
    factors = np.isin(genes[:, 3], [0, 2, 5, 7, 11, 12, 13, 15])[:, None].astype(np.int64)
    assert mig(genes, factors, discrete_codes=True)[0] > 0.95


def brute_force_threshold(train, y_train, test, y_test):
    """Try every threshold between distinct training values in both directions; balanced accuracy."""

    def balanced(pred, y):
        return 0.5 * ((pred[y == 1] == 1).mean() + (pred[y == 0] == 0).mean())

    values = np.unique(train)
    candidates = np.concatenate([[values[0] - 1], (values[1:] + values[:-1]) / 2, [values[-1] + 1]])
    best, rule = -1.0, None
    for t in candidates:
        for flip in (False, True):
            pred = (train > t).astype(int)
            pred = 1 - pred if flip else pred
            score = balanced(pred, y_train)
            if score > best + 1e-12:
                best, rule = score, (t, flip)
    pred = (test > rule[0]).astype(int)
    return balanced(1 - pred if rule[1] else pred, y_test)


def test_sap_scores_equal_a_brute_force_threshold_search():
    rng = np.random.default_rng(3)
    codes = rng.normal(size=(200, 3))
    factors = np.stack([codes[:, 0] + rng.normal(0, 0.5, 200) > 0.5, rng.random(200) < 0.3], 1).astype(np.int64)
    s = sap_score_matrix(codes[:120], factors[:120], codes[120:], factors[120:])
    for k in range(3):
        for a in range(2):
            expected = brute_force_threshold(codes[:120, k], factors[:120, a], codes[120:, k], factors[120:, a])
            assert s[k, a] == pytest.approx(expected)


def test_sap_is_high_when_one_code_predicts_each_factor():
    codes, factors = informative_codes()
    score, gaps = sap(codes[:3000], factors[:3000], codes[3000:], factors[3000:])
    assert score > 0.4 and (gaps > 0.4).all()
    genes = np.random.default_rng(4).integers(0, 8, (3000, 4))
    gene_factors = (genes[:, [2]] < 3).astype(np.int64)
    score, _ = sap(genes[:2000], gene_factors[:2000], genes[2000:], gene_factors[2000:], discrete_codes=True)
    assert score > 0.45  # gene 2 predicts it perfectly (1.0), the others at chance (0.5)


def test_dci_of_ideal_and_uniform_importance_matrices():
    assert dci_from_importance(np.eye(3)) == pytest.approx((1.0, 1.0))
    assert dci_from_importance(np.ones((3, 3))) == pytest.approx((0.0, 0.0))
    # One code explaining both factors: completeness 1, disentanglement 0.
    d, c = dci_from_importance(np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert (d, c) == pytest.approx((0.0, 1.0))


@pytest.mark.parametrize("method", ["linear", "forest"])
def test_dci_on_axis_aligned_factors(method):
    codes, factors = informative_codes(n=3000)
    result = dci(codes[:2000], factors[:2000], codes[2000:], factors[2000:], method=method)
    assert result.importance.shape == (6, 2)
    assert result.disentanglement > 0.6 and result.completeness > 0.6 and result.informativeness > 0.9
    mixed = np.stack([codes[:, :4].sum(1) > 0, codes[:, :4].sum(1) > 0.5], 1).astype(np.int64)
    entangled = dci(codes[:2000], mixed[:2000], codes[2000:], mixed[2000:], method=method)
    assert entangled.disentanglement < result.disentanglement - 0.3


def test_dci_on_one_hot_genes():
    genes = np.random.default_rng(5).integers(0, 8, (3000, 4))
    factors = np.stack([genes[:, 0] < 4, np.isin(genes[:, 3], [1, 6])], 1).astype(np.int64)
    result = dci(genes[:2000], factors[:2000], genes[2000:], factors[2000:], discrete_codes=True, num_variants=8)
    assert result.importance.shape == (4, 2)
    assert result.importance[0, 0] > 5 * result.importance[1:, 0].max()
    assert result.disentanglement > 0.7 and result.completeness > 0.7 and result.informativeness > 0.95
