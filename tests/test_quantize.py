import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from genomekit.quantize import (
    KMeansResult,
    cluster_counts,
    cluster_masses,
    kmeans,
    kmeans_plusplus,
    mass_imbalance,
)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def numpy_kmeans(data: np.ndarray, init: np.ndarray, iterations: int, tolerance: float):
    """Plain Lloyd's k-means, one gene at a time, with the documented empty-cluster rule."""
    num_genes, num_points, _ = data.shape
    num_centroids = init.shape[1]
    centroids, assignments, inertias, steps = [], [], [], []
    for gene in range(num_genes):
        x = data[gene].astype(np.float64)
        c = init[gene].astype(np.float64).copy()
        distance = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)  # (N, V)
        a = distance.argmin(1)
        squared = distance[np.arange(num_points), a]
        inertia = squared.mean()
        step = 0
        for step in range(1, iterations + 1):  # noqa: B007
            new = c.copy()
            empty = []
            for v in range(num_centroids):
                members = a == v
                if members.any():
                    new[v] = x[members].mean(0)
                else:
                    empty.append(v)
            farthest = np.argsort(-squared, kind="stable")
            for i, v in enumerate(empty):
                new[v] = x[farthest[i]]
            c = new
            distance = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
            a = distance.argmin(1)
            squared = distance[np.arange(num_points), a]
            previous, inertia = inertia, squared.mean()
            if abs(previous - inertia) <= tolerance * previous:
                break
        centroids.append(c)
        assignments.append(a)
        inertias.append(inertia)
        steps.append(step)
    return np.stack(centroids), np.stack(assignments), np.array(inertias), steps


def exact_balanced_cost(points: np.ndarray, centroids: np.ndarray, sizes: np.ndarray) -> float:
    """Optimal mean squared distance with ``sizes[v]`` points per cluster (Hungarian on repeated columns)."""
    distance = ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
    columns = np.repeat(np.arange(len(sizes)), sizes)
    rows, chosen = linear_sum_assignment(distance[:, columns])
    return float(distance[rows, columns[chosen]].mean())


def blobs(num_genes=2, per_blob=100, num_blobs=8, dim=4, sigma=0.1, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, size=(num_genes, num_blobs, dim))
    labels = np.repeat(np.arange(num_blobs), per_blob)
    points = centres[:, labels] + sigma * rng.standard_normal((num_genes, len(labels), dim))
    return torch.tensor(points, dtype=torch.float32), centres


# ---------------------------------------------------------------------------------------------- Lloyd


def test_matches_numpy_lloyd_from_the_same_init():
    data = torch.rand(3, 500, 4, generator=generator(0))
    init = kmeans_plusplus(data, 8, generator=generator(1))
    result = kmeans(data, 8, generator=generator(2), init=init, iterations=100, tolerance=1e-7)
    centroids, assignment, inertia, steps = numpy_kmeans(data.numpy(), init.numpy(), 100, 1e-7)
    assert isinstance(result, KMeansResult)
    assert result.centroids.shape == (3, 8, 4) and result.centroids.dtype == torch.float32
    assert result.assignment.dtype == torch.int64
    np.testing.assert_array_equal(result.assignment.numpy(), assignment)
    np.testing.assert_allclose(result.centroids.numpy(), centroids, atol=1e-5)
    np.testing.assert_allclose(result.inertia.numpy(), inertia, rtol=1e-5)
    assert result.iterations == max(steps)
    assert result.converged.all()


def test_matches_numpy_lloyd_with_a_fixed_number_of_steps():
    data = torch.randn(2, 300, 3, generator=generator(3)) + 50.0  # far from the origin: centring matters
    init = data[:, :6].clone()
    result = kmeans(data, 6, generator=generator(0), init=init, iterations=3, tolerance=0.0)
    centroids, assignment, inertia, steps = numpy_kmeans(data.numpy(), init.numpy(), 3, 0.0)
    np.testing.assert_array_equal(result.assignment.numpy(), assignment)
    np.testing.assert_allclose(result.centroids.numpy(), centroids, atol=1e-4)
    np.testing.assert_allclose(result.inertia.numpy(), inertia, rtol=1e-4)
    assert result.iterations == 3 == max(steps)


def test_zero_iterations_return_the_initialisation_and_its_assignment():
    data = torch.rand(2, 50, 2, generator=generator(0))
    init = data[:, :5].clone()
    result = kmeans(data, 5, generator=generator(0), init=init, iterations=0)
    nearest = torch.cdist(data.double(), init.double()).argmin(-1)
    assert torch.allclose(result.centroids, init, atol=1e-6)
    assert torch.equal(result.assignment, nearest)
    assert result.iterations == 0 and not result.converged.any()


def test_planted_blobs_are_recovered():
    data, centres = blobs()
    result = kmeans(data, 8, generator=generator(0))
    sigma, dim = 0.1, 4
    for gene in range(2):
        found = result.centroids[gene].double().numpy()
        distance = np.linalg.norm(centres[gene][:, None] - found[None], axis=-1)  # (planted, found)
        assert (distance.min(1) < 0.05).all()  # the mean of 100 points is off by ~0.02
        assert sorted(distance.argmin(1)) == list(range(8))  # one centroid per blob
    np.testing.assert_allclose(result.inertia.numpy(), dim * sigma**2, rtol=0.15)


def test_chunk_size_changes_only_rounding():
    data = torch.randn(3, 700, 5, generator=generator(4))
    results = [kmeans(data, 16, generator=generator(5), chunk_size=size) for size in (64, 8192)]
    assert torch.equal(results[0].assignment, results[1].assignment)
    assert torch.allclose(results[0].centroids, results[1].centroids, atol=1e-6)
    assert results[0].iterations == results[1].iterations
    balanced = [kmeans(data, 16, generator=generator(5), balanced=True, chunk_size=size) for size in (64, 8192)]
    assert torch.equal(balanced[0].assignment, balanced[1].assignment)


def test_same_seed_gives_bitwise_the_same_result():
    data = torch.randn(2, 400, 4, generator=generator(6))
    for balanced in (False, True):
        first = kmeans(data, 10, generator=generator(7), balanced=balanced)
        second = kmeans(data, 10, generator=generator(7), balanced=balanced)
        assert torch.equal(first.centroids, second.centroids)
        assert torch.equal(first.assignment, second.assignment)
        assert torch.equal(first.inertia, second.inertia)
        other = kmeans(data, 10, generator=generator(8), balanced=balanced)
        assert not torch.equal(first.centroids, other.centroids)


def test_genes_do_not_depend_on_each_other():
    data = torch.randn(3, 300, 4, generator=generator(9))
    init = kmeans_plusplus(data, 7, generator=generator(10))
    for balanced in (False, True):
        batch = kmeans(data, 7, generator=generator(0), init=init, balanced=balanced)
        alone = kmeans(data[1:2], 7, generator=generator(0), init=init[1:2], balanced=balanced)
        assert torch.equal(batch.assignment[1:2], alone.assignment)
        assert torch.allclose(batch.centroids[1:2], alone.centroids, atol=1e-6)


def test_empty_cluster_moves_to_the_farthest_point():
    data = torch.rand(2, 200, 3, generator=generator(11))
    init = data[:, :5].clone()
    init[0, 2] = 1000.0  # gene 0, cluster 2 wins no point in the first assignment
    init[1, 0] = -1000.0  # gene 1: two empty clusters
    init[1, 4] = 1000.0
    one_step = kmeans(data, 5, generator=generator(0), init=init, iterations=1, tolerance=0.0)
    for gene, empties in ((0, [2]), (1, [0, 4])):
        distance = torch.cdist(data[gene].double(), init[gene].double()).square()  # (N, V)
        squared = distance.min(1).values
        farthest = torch.argsort(squared, descending=True, stable=True)
        for i, cluster in enumerate(empties):
            assert torch.allclose(one_step.centroids[gene, cluster], data[gene, farthest[i]], atol=1e-6)
    # and the whole run agrees with the reference, which applies the same rule
    result = kmeans(data, 5, generator=generator(0), init=init, iterations=50, tolerance=1e-7)
    centroids, assignment, _, _ = numpy_kmeans(data.numpy(), init.numpy(), 50, 1e-7)
    np.testing.assert_array_equal(result.assignment.numpy(), assignment)
    np.testing.assert_allclose(result.centroids.numpy(), centroids, atol=1e-5)
    assert (cluster_counts(result.assignment, 5) > 0).all()


# ---------------------------------------------------------------------------------------------- k-means++


def test_kmeans_plusplus_is_deterministic_and_picks_data_points():
    data = torch.randn(3, 400, 4, generator=generator(12))
    first = kmeans_plusplus(data, 12, generator=generator(13))
    second = kmeans_plusplus(data, 12, generator=generator(13))
    other = kmeans_plusplus(data, 12, generator=generator(14))
    assert first.shape == (3, 12, 4)
    assert torch.equal(first, second)
    assert not torch.equal(first, other)
    for gene in range(3):
        matches = (first[gene][:, None, :] == data[gene][None, :, :]).all(-1)  # (V, N)
        assert (matches.sum(1) == 1).all()  # every centroid is exactly one data point
        assert len(set(matches.int().argmax(1).tolist())) == 12  # and they are distinct


def test_kmeans_plusplus_samples_by_squared_distance():
    # 199 points near the origin and one at distance 100: uniform seeding would pick it ~1% of the
    # time for the second centroid, D^2 sampling almost surely
    data = 1e-3 * torch.randn(40, 200, 2, generator=generator(15))
    data[:, 123] = 100.0
    seeds = kmeans_plusplus(data, 2, generator=generator(16))
    assert ((seeds == 100.0).all(-1).any(1)).all()


def test_kmeans_plusplus_with_duplicate_points():
    data = torch.zeros(1, 10, 2)
    data[0, 7] = 1.0  # two distinct points, three centroids
    seeds = kmeans_plusplus(data, 3, generator=generator(0))
    rows = {tuple(row) for row in seeds[0].tolist()}
    assert rows == {(0.0, 0.0), (1.0, 1.0)}


# ---------------------------------------------------------------------------------------------- balanced


@pytest.mark.parametrize("num_points", [400, 403])
def test_balanced_sizes_are_exact_and_near_the_capacitated_optimum(num_points):
    data = torch.rand(2, num_points, 3, generator=generator(17))
    result = kmeans(data, 8, generator=generator(18), balanced=True)
    counts = cluster_counts(result.assignment, 8)
    base = num_points // 8
    assert ((counts == base) | (counts == base + 1)).all()
    assert (counts.sum(1) == num_points).all()
    assert ((counts == base + 1).sum(1) == num_points % 8).all()
    assert result.assignment_gap is not None and (result.assignment_gap < 1e-2).all()
    for gene in range(2):
        points = data[gene].double().numpy()
        exact = exact_balanced_cost(points, result.centroids[gene].double().numpy(), counts[gene].numpy())
        ours = float(result.inertia[gene])
        assert ours <= exact * (1 + 1e-4)
        # the certified gap bounds the true one
        assert (ours - exact) / ours <= float(result.assignment_gap[gene]) + 1e-6


def test_balanced_costs_little_on_uniform_data():
    data = torch.rand(2, 2000, 4, generator=generator(19))
    free = kmeans(data, 16, generator=generator(20))
    balanced = kmeans(data, 16, generator=generator(20), balanced=True)
    assert (cluster_counts(balanced.assignment, 16) == 125).all()
    assert mass_imbalance(cluster_masses(free.assignment, 16))["max_min_ratio"].min() > 1.05
    assert (balanced.inertia <= 1.1 * free.inertia).all()  # measured: 0.96-1.01 on such data


def test_balanced_on_equal_blobs_recovers_them():
    data, centres = blobs(per_blob=50, seed=1)
    result = kmeans(data, 8, generator=generator(21), balanced=True)
    assert (cluster_counts(result.assignment, 8) == 50).all()
    for gene in range(2):
        found = result.centroids[gene].double().numpy()
        distance = np.linalg.norm(centres[gene][:, None] - found[None], axis=-1)
        assert (distance.min(1) < 0.1).all()


def test_balanced_with_one_cluster_and_with_one_point_per_cluster():
    data = torch.rand(2, 30, 2, generator=generator(22))
    single = kmeans(data, 1, generator=generator(0), balanced=True)
    assert (single.assignment == 0).all()
    assert torch.allclose(single.centroids[:, 0], data.mean(1), atol=1e-6)
    each = kmeans(data, 30, generator=generator(0), balanced=True)
    assert (cluster_counts(each.assignment, 30) == 1).all()
    assert torch.allclose(each.inertia, torch.zeros(2), atol=1e-10)


# ---------------------------------------------------------------------------------------------- masses


def test_cluster_masses_match_bincount_and_shards_add_up():
    rng = np.random.default_rng(23)
    assignment = rng.integers(0, 6, size=(3, 250))
    assignment[1][assignment[1] == 4] = 5  # gene 1 has an empty cluster
    masses = cluster_masses(torch.tensor(assignment), 6)
    expected = np.stack([np.bincount(row, minlength=6) / 250 for row in assignment])
    np.testing.assert_allclose(masses.numpy(), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(masses.sum(1).numpy(), 1.0)
    full = cluster_counts(torch.tensor(assignment), 6)
    shards = cluster_counts(torch.tensor(assignment[:, :100]), 6) + cluster_counts(torch.tensor(assignment[:, 100:]), 6)
    assert torch.equal(full, shards)


def test_mass_imbalance_against_numpy():
    masses = np.array(
        [
            [0.25, 0.25, 0.25, 0.25],  # uniform
            [0.4, 0.3, 0.2, 0.1],
            [0.5, 0.5, 0.0, 0.0],  # two empty clusters
            [1.0, 0.0, 0.0, 0.0],
        ]
    )
    result = mass_imbalance(torch.tensor(masses))
    for row, m in enumerate(masses):
        present = m[m > 0]
        entropy = -(present * np.log(present)).sum()
        np.testing.assert_allclose(float(result["perplexity_ratio"][row]), np.exp(entropy) / 4, rtol=1e-12)
        ratio = m.max() / m.min() if m.min() > 0 else np.inf
        assert float(result["max_min_ratio"][row]) == pytest.approx(ratio)
        assert float(result["empty_fraction"][row]) == pytest.approx((m == 0).mean())
    assert float(result["perplexity_ratio"][0]) == pytest.approx(1.0)
    assert float(result["perplexity_ratio"][3]) == pytest.approx(0.25)


# ---------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("data", "num_centroids", "kwargs", "message"),
    [
        (torch.rand(10, 3), 2, {}, r"shape \(G, N, D\)"),
        (torch.rand(1, 2, 10, 3), 2, {}, r"shape \(G, N, D\)"),
        (torch.rand(2, 10, 3), 11, {}, "must not exceed"),
        (torch.rand(2, 10, 3), 0, {}, "positive integer"),
        (torch.rand(2, 10, 3), -3, {}, "positive integer"),
        (torch.rand(2, 10, 3), 2.0, {}, "positive integer"),
        (torch.randint(0, 5, (2, 10, 3)), 2, {}, "floating point"),
        (torch.full((2, 10, 3), float("nan")), 2, {}, "NaN"),
        (torch.rand(2, 10, 3), 2, {"init": torch.rand(2, 3, 3)}, r"init must have shape \(G, V, D\)"),
        (torch.rand(2, 10, 3), 2, {"chunk_size": 0}, "chunk_size"),
        (torch.rand(2, 10, 3), 2, {"iterations": -1}, "iterations"),
        (torch.rand(2, 10, 3), 2, {"tolerance": -1.0}, "tolerance"),
    ],
)
def test_invalid_input_is_rejected(data, num_centroids, kwargs, message):
    with pytest.raises(ValueError, match=message):
        kmeans(data, num_centroids, generator=generator(0), **kwargs)


def test_invalid_assignment_and_masses_are_rejected():
    with pytest.raises(ValueError, match="in \\[0, 3\\)"):
        cluster_masses(torch.tensor([[0, 1, 3]]), 3)
    with pytest.raises(ValueError, match="integer"):
        cluster_masses(torch.tensor([[0.0, 1.0]]), 3)
    with pytest.raises(ValueError, match=r"shape \(G, N\)"):
        cluster_masses(torch.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="non-negative"):
        mass_imbalance(torch.tensor([[1.5, -0.5]]))
    with pytest.raises(ValueError, match="must not exceed"):
        kmeans_plusplus(torch.rand(1, 3, 2), 4, generator=generator(0))
