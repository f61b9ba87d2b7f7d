import numpy as np
import pytest

from genomekit.metrics.kid import kernel_inception_distance


def direct_kid(real, fake, num_subsets, max_subset_size, rng):
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, written as explicit loops over pairs."""
    d = real.shape[1]
    m = min(len(real), len(fake), max_subset_size)
    k = lambda a, b: (np.dot(a, b) / d + 1) ** 3  # noqa: E731
    values = []
    for _ in range(num_subsets):
        x = fake[rng.choice(len(fake), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
        values.append(xx + yy - 2 * xy)
    return float(np.mean(values))


def test_kid_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(9, 4)), rng.normal(0.5, 1.2, size=(7, 4))
    ours = kernel_inception_distance(real, fake, num_subsets=5, max_subset_size=6, generator=np.random.default_rng(1))
    reference = direct_kid(real, fake, 5, 6, np.random.default_rng(1))
    assert ours == pytest.approx(reference, rel=1e-10)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(400, 16))
    same = kernel_inception_distance(
        real, rng.normal(size=(400, 16)), num_subsets=10, max_subset_size=200, generator=rng
    )
    shifted = kernel_inception_distance(
        real, rng.normal(1.0, 1, size=(400, 16)), num_subsets=10, max_subset_size=200, generator=rng
    )
    assert abs(same) < 0.02
    assert shifted > 0.5


def test_kid_refuses_mismatched_features():
    with pytest.raises(ValueError, match="same F"):
        kernel_inception_distance(np.ones((4, 3)), np.ones((4, 2)), generator=np.random.default_rng(0))
