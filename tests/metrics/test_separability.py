import numpy as np
import pytest

from genomekit.metrics.separability import conditional_entropy, linear_separability


def test_conditional_entropy_in_bits():
    assert conditional_entropy([[5, 0], [0, 5]]) == 0.0
    assert conditional_entropy([[1, 1], [1, 1]]) == pytest.approx(1.0)
    p = np.array([[0.3, 0.1], [0.2, 0.4]])
    expected = -sum(p[x, y] * np.log2(p[x, y] / p[x].sum()) for x in range(2) for y in range(2))
    assert conditional_entropy(p) == pytest.approx(expected)


def test_linearly_separable_attributes_score_one_and_random_ones_do_not():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(2000, 5))
    separable = 1 / (1 + np.exp(-4 * (codes[:, 0] - codes[:, 2])))
    random = rng.random(2000)
    result = linear_separability(codes, np.stack([separable, random], 1))
    assert result.num_kept == 1000
    assert result.entropies[0] < 0.05 and result.svm_accuracy[0] > 0.99
    assert result.entropies[1] > 0.9  # nearly one bit: the SVM's side says nothing about the label
    assert result.score == pytest.approx(np.exp(result.entropies.sum()))
    alone = linear_separability(codes, separable[:, None])
    assert alone.score < 1.05


def test_the_confident_half_is_kept():
    # Labels of the unconfident half are noise; keeping only the confident half makes them separable.
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(1000, 3))
    p = np.where(
        np.abs(codes[:, 0]) > np.median(np.abs(codes[:, 0])),
        (codes[:, 0] > 0) * 0.98 + 0.01,
        rng.uniform(0.4, 0.6, 1000),
    )
    assert linear_separability(codes, p[:, None]).entropies[0] < 0.05
    assert linear_separability(codes, p[:, None], keep_fraction=1.0).entropies[0] > 0.3
