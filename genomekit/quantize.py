"""Vectorised k-means for product quantisation of a latent space, G independent problems at once.

(Over 500 lines on purpose: one algorithm, Lloyd with the capacitated assignment of equal-size
clusters, whose pieces -- priced passes, Jacobi price steps, the auction, the dual bound -- share
one state and are only meaningful together; split, each file would need the others to be read.)

``genomekit genome-from-mapping`` splits each (rotated) latent ``w`` into G chunks ("genes") of
length D and clusters the N chunks of every gene into V centroids ("variants"). :func:`kmeans`
solves all G problems together: every step is a batched tensor operation over the genes, and
distances are formed ``chunk_size`` points at a time, so memory stays O(G * chunk_size * V).

Algorithm (per gene, all genes batched):

1. Initialise by k-means++ (D^2 sampling) from an explicit ``torch.Generator``, or from ``init``.
   The data are centred per gene first (the result is translated back), which keeps the
   expansion ``||x||^2 - 2 x.c + ||c||^2`` accurate when the latents sit far from the origin.
2. Lloyd iterations: assign every point to its nearest centroid (ties: the point's previous
   cluster if it is among them, else the lowest index, as ``torch.min`` documents), move every
   centroid to the mean of its points (sums in float64). On a CPU the scores are formed in blocks
   of about 250k that stay in cache, and only the points whose previous cluster lost need a
   minimum with its index, which makes late iterations about 2x cheaper.
   An empty cluster is re-seeded deterministically: the i-th empty cluster (in index order) moves
   onto the i-th point farthest from its current centroid (ties: lower point index); that point
   still counts in its old cluster's mean for this step.
3. A gene stops when the relative change of its inertia is at most ``tolerance``; the loop ends
   when every gene has stopped or after ``iterations`` steps. A stopped gene is no longer
   computed, so its result does not depend on the other genes in the batch.

Balanced k-means (``balanced=True``): every cluster gets exactly ``floor(N/V)`` or ``ceil(N/V)``
points, so a Genome that samples variants uniformly reproduces the data distribution. Lloyd's
assignment step becomes the capacitated assignment (transportation) problem

    min sum_i ||x_i - c_a(i)||^2   subject to   |{i : a(i) = v}| = cap_v,

whose LP dual has one price ``p_v`` per cluster: the optimal assignment is ``argmin_v ||x - c_v||^2
+ p_v`` up to ties, and for any prices ``LB(p) = mean_i min_v (||x_i - c_v||^2 + p_v) - (sum of
cap_v p_v) / N`` is a lower bound on the optimum (taking the ``N mod V`` largest prices for the
larger capacities bounds every choice of which clusters get ``ceil``). The balanced iterations
(``balanced_iterations``) start from the unbalanced result: at N=100k, V=256, D=8 unbalanced 50 +
balanced 10 ends at a lower inertia than 50 balanced steps from the seeds, in a third of the
time. Each balanced step:

1. one priced pass: best and runner-up score of every point (the margin between them is the price
   rise that would move it); the ``N mod V`` clusters in most demand get ``ceil(N/V)``;
2. while more than 1% of the points would have to move (the first step, or after a large move of
   the centroids), damped Jacobi price steps at fixed centroids, one pass each: an over-full
   cluster raises its price by the k-th smallest margin of its members (k its excess), an
   under-full one lowers it by the k-th smallest margin of the points that rank it second;
3. an auction (Bertsekas' Jacobi auction for the transportation problem) warm-started from these
   prices: each cluster keeps its highest-bidding points (bid = price + margin, the most a point
   would pay), and in rounds every unplaced point bids ``price + margin + eps`` for its best
   cluster, displacing that cluster's lowest bid; ``eps`` is 1% of the mean squared distance. Every
   placed point keeps eps-complementary slackness, so the assignment is within eps per bidding
   point of the capacitated optimum. The last ``N / 10^4`` unplaced points of a gene mostly wander
   (a chain of displacements looking for a cluster with room), so they, and anything left after
   1000 rounds, are placed greedily in clusters with room (largest regret first);
4. the final prices seed the next step, so later steps need few rounds.

Cost and accuracy: a balanced step costs one priced pass (about 1.5x an unbalanced pass) plus
tens to hundreds of auction rounds over the few unplaced points, batched over the genes; memory
stays O(G * N) besides the O(G * chunk * V) score blocks. ``KMeansResult.assignment_gap`` is the
certified ``(inertia - LB) / inertia`` of the final step (it bounds the excess over the exact
capacitated optimum for the returned centroids): about 2e-4 at N=100k, V=256, D=8 (mostly from the
greedy tail), and on small problems the assignment equals the optimum of
``scipy.optimize.linear_sum_assignment`` to within 1e-5 of its cost (the tests check 1e-4).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import Tensor

logger = logging.getLogger(__name__)

_CPU_BLOCK = 1 << 18  # scores formed at once on a CPU (1 MB in float32)
_AUCTION_INCREMENT = 1e-2  # auction bid increment, relative to the mean squared distance
_AUCTION_SWITCH = 0.01  # Jacobi price steps until at most this fraction of points must move
_JACOBI_STEPS = 30  # at most, per assignment step
_JACOBI_SAMPLE = 32768  # points per gene (at least) for the first Jacobi steps on large problems
_AUCTION_TAIL = 1e-4  # a gene's last (this fraction of N) unplaced points are placed greedily
_AUCTION_ROUNDS = 1000  # at most, per assignment step; the rest is placed greedily
_PRICE_DAMPING = 0.5  # a move from an over- to an under-full cluster is proposed by both


@dataclass(frozen=True)
class KMeansResult:
    """The outcome of :func:`kmeans` for G independent problems."""

    centroids: Tensor  # (G, V, D) float32 (float64 for float64 data)
    assignment: Tensor  # (G, N) int64, index of each point's centroid
    inertia: Tensor  # (G,) mean squared distance of the points to their centroid
    iterations: int  # Lloyd iterations run (the most over the genes; unbalanced plus balanced)
    converged: Tensor  # (G,) bool, the relative inertia change of the last phase reached ``tolerance``
    assignment_gap: Tensor | None = None  # (G,) balanced only: (inertia - dual lower bound) / inertia


def kmeans(
    data: Tensor,
    num_centroids: int,
    *,
    generator: torch.Generator,
    iterations: int = 50,
    tolerance: float = 1e-6,
    init: Tensor | None = None,
    balanced: bool = False,
    balanced_iterations: int = 10,
    chunk_size: int = 8192,
) -> KMeansResult:
    """Lloyd's k-means (optionally with equal cluster sizes) on G independent problems at once.

    Args:
        data: (G, N, D) G independent problems of N points in D dimensions.
        num_centroids: V, clusters per problem, 1 <= V <= N.
        generator: draws the k-means++ initialisation (on its own device); unused when ``init``
            is given.
        iterations: the most Lloyd iterations (0 returns the initialisation and its assignment).
        tolerance: a gene stops when ``|previous - inertia| <= tolerance * previous``.
        init: (G, V, D) initial centroids; skips k-means++.
        balanced: give every cluster exactly ``floor(N/V)`` or ``ceil(N/V)`` points: after the
            unbalanced iterations, up to ``balanced_iterations`` balanced ones (module docstring).
        balanced_iterations: the most balanced Lloyd iterations (0 balances the assignment only).
        chunk_size: points per gene whose (G, chunk_size, V) distances are formed at once.

    Returns:
        A :class:`KMeansResult`; the assignment is that of the returned centroids. Same data and
        same generator state give bitwise the same result on a given device; ``chunk_size``
        changes only float rounding.

    Example:
        >>> result = kmeans(torch.randn(4, 1000, 8), 16, generator=torch.Generator().manual_seed(0))
        >>> result.centroids.shape, result.assignment.shape
        (torch.Size([4, 16, 8]), torch.Size([4, 1000]))
    """
    _check_data(data, num_centroids)
    if iterations < 0 or balanced_iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations} and balanced_iterations {balanced_iterations}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    num_genes, num_points, dim = data.shape
    dtype = torch.promote_types(data.dtype, torch.float32)
    if init is not None:
        if init.shape != (num_genes, num_centroids, dim):
            raise ValueError(
                f"init must have shape (G, V, D) = {(num_genes, num_centroids, dim)}, got {tuple(init.shape)}"
            )
        if not torch.isfinite(init).all():
            raise ValueError("init contains NaN or infinite values")

    # Centring is a translation, so it changes the clusters only by float rounding; it keeps the
    # expansion ||x||^2 - 2 x.c + ||c||^2 free of cancellation for latents far from the origin.
    mean = data.mean(1, keepdim=True, dtype=torch.float64)  # (G, 1, D)
    points = data.to(dtype) - mean.to(dtype)  # (G, N, D)
    if init is None:
        init = kmeans_plusplus(data, num_centroids, generator=generator)
    centroids = (init.to(device=data.device, dtype=torch.float64) - mean).to(dtype)  # (G, V, D)

    # unbalanced Lloyd, then (balanced) equal-size Lloyd started from its centroids: far cheaper
    # than balanced steps from the seeds, and measured to end at a lower inertia
    centroids, assignment, squared, inertia, _, converged, run = _lloyd(
        points, centroids, None, iterations, tolerance, chunk_size
    )
    prices = None
    if balanced:
        prices = torch.zeros(num_genes, num_centroids, dtype=dtype, device=data.device)
        centroids, assignment, squared, inertia, prices, converged, balanced_run = _lloyd(
            points, centroids, prices, balanced_iterations, tolerance, chunk_size
        )
        run += balanced_run
    if run and not converged.all():
        logger.info("k-means: %d of %d genes did not converge in %d steps", int((~converged).sum()), num_genes, run)

    gap = None
    if prices is not None:  # certified: inertia - optimum <= inertia - lower bound
        lower_bound = _dual_bound(points, centroids, prices, chunk_size)
        gap = ((inertia - lower_bound) / inertia.clamp(min=torch.finfo(torch.float64).tiny)).clamp(min=0)
    return KMeansResult(
        centroids=(centroids.to(torch.float64) + mean).to(dtype),
        assignment=assignment,
        inertia=inertia.to(dtype),
        iterations=run,
        converged=converged,
        assignment_gap=None if gap is None else gap.to(dtype),
    )


def _lloyd(
    points: Tensor, centroids: Tensor, prices: Tensor | None, iterations: int, tolerance: float, chunk_size: int
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor | None, Tensor, int]:
    """Lloyd iterations on centred points; balanced (equal sizes) when ``prices`` (g, V) are given.

    Returns:
        centroids (g, V, D), assignment (g, n), squared distances (g, n), inertia (g,) float64,
        prices (g, V) or None, converged (g,) bool, steps run.
    """
    num_genes = points.shape[0]
    centroids = centroids.clone()
    assignment, squared, prices = _assign(points, centroids, prices, chunk_size)
    inertia = squared.to(torch.float64).mean(1)  # (g,)
    converged = torch.zeros(num_genes, dtype=torch.bool, device=points.device)
    active = torch.arange(num_genes, device=points.device)  # genes still iterating
    subset = points
    run = 0
    for step in range(1, iterations + 1):
        run = step
        # 1. update: centroids of the active genes move to the means of their points
        moved = _update(subset, assignment[active], squared[active], centroids[active], chunk_size)
        # 2. assignment to the new centroids (balanced: warm-started from the prices of the previous step)
        sub_prices = None if prices is None else prices[active]
        sub_assignment, sub_squared, sub_prices = _assign(subset, moved, sub_prices, chunk_size, assignment[active])
        sub_inertia = sub_squared.to(torch.float64).mean(1)
        # 3. convergence per gene; stopped genes keep their state and leave the batch
        previous = inertia[active]
        done = (previous - sub_inertia).abs() <= tolerance * previous
        centroids[active], assignment[active], squared[active], inertia[active] = (
            moved,
            sub_assignment,
            sub_squared,
            sub_inertia,
        )
        if prices is not None:
            prices[active] = sub_prices
        converged[active] = done
        logger.debug(
            "k-means step %d%s: %d genes active, mean inertia %.6g",
            step,
            "" if prices is None else " (balanced)",
            len(active),
            inertia.mean(),
        )
        if done.all():
            break
        if done.any():
            active = active[~done]
            subset = points.index_select(0, active)
    return centroids, assignment, squared, inertia, prices, converged, run


def kmeans_plusplus(data: Tensor, num_centroids: int, *, generator: torch.Generator) -> Tensor:
    """k-means++ seeding (D^2 sampling), batched over G independent problems.

    The first centroid is a uniformly drawn point; each next one is a point drawn with probability
    proportional to its squared distance to the nearest centroid chosen so far (inverse CDF in
    float64). If every point coincides with a chosen centroid, the last point is taken.

    Args:
        data: (G, N, D) points.
        num_centroids: V, 1 <= V <= N.
        generator: the random source; draws happen on its device and move to the data's device.

    Returns:
        (G, V, D) centroids, each a row of ``data``.
    """
    _check_data(data, num_centroids)
    num_genes, num_points, dim = data.shape
    dtype = torch.promote_types(data.dtype, torch.float32)
    points = data.to(dtype) - data.mean(1, keepdim=True, dtype=torch.float64).to(dtype)  # (G, N, D) centred
    norms = (points * points).sum(-1)  # (G, N)
    genes = torch.arange(num_genes, device=data.device)

    first = torch.randint(num_points, (num_genes,), generator=generator, device=generator.device)
    chosen = [first.to(data.device)]  # V tensors (G,)
    closest = torch.full_like(norms, torch.inf)  # (G, N) squared distance to the nearest chosen centroid
    for _ in range(1, num_centroids):
        index = chosen[-1]
        centre = points[genes, index]  # (G, D)
        # ||x||^2 - 2 x.c + ||c||^2 through one (G, N, D) @ (G, D, 1) product, no (G, N, D) temporary
        distance = torch.baddbmm(norms[:, :, None], points, centre[:, :, None], alpha=-2).squeeze(-1)
        distance = (distance + norms[genes, index][:, None]).clamp_(min=0)
        distance[genes, index] = 0  # exactly, so a chosen point is never drawn again
        closest = torch.minimum(closest, distance)
        cumulative = closest.to(torch.float64).cumsum(1)  # (G, N)
        uniform = torch.rand(num_genes, 1, generator=generator, device=generator.device, dtype=torch.float64)
        target = uniform.to(data.device) * cumulative[:, -1:]
        # the first point whose cumulative mass exceeds the target; zero-mass points are never hit
        index = torch.searchsorted(cumulative, target, right=True).squeeze(1).clamp_(max=num_points - 1)
        chosen.append(index)
    indices = torch.stack(chosen, 1)  # (G, V)
    return data.gather(1, indices[:, :, None].expand(-1, -1, dim)).to(dtype)


def cluster_counts(assignment: Tensor, num_centroids: int) -> Tensor:
    """Points per cluster; counts of disjoint shards of points add up.

    Args:
        assignment: (G, N) cluster index of every point, in [0, V).
        num_centroids: V.

    Returns:
        (G, V) int64 counts.
    """
    if assignment.ndim != 2:
        raise ValueError(f"assignment must have shape (G, N), got {tuple(assignment.shape)}")
    if assignment.dtype.is_floating_point or assignment.dtype.is_complex or assignment.dtype == torch.bool:
        raise ValueError(f"assignment must hold integer cluster indices, got {assignment.dtype}")
    if num_centroids < 1:
        raise ValueError(f"num_centroids must be a positive integer, got {num_centroids}")
    if assignment.numel() and (assignment.min() < 0 or assignment.max() >= num_centroids):
        raise ValueError(
            f"assignment values must lie in [0, {num_centroids}), got [{assignment.min()}, {assignment.max()}]"
        )
    num_genes = assignment.shape[0]
    offset = torch.arange(num_genes, device=assignment.device)[:, None] * num_centroids
    flat = (assignment.long() + offset).reshape(-1)
    return torch.bincount(flat, minlength=num_genes * num_centroids).reshape(num_genes, num_centroids)


def cluster_masses(assignment: Tensor, num_centroids: int) -> Tensor:
    """Fraction of the points in every cluster.

    Args:
        assignment: (G, N) cluster index of every point, in [0, V), N >= 1.
        num_centroids: V.

    Returns:
        (G, V) float64 fractions, each row summing to 1.
    """
    counts = cluster_counts(assignment, num_centroids)
    if assignment.shape[1] == 0:
        raise ValueError("assignment has no points (N = 0), so masses are undefined")
    return counts.to(torch.float64) / assignment.shape[1]


def mass_imbalance(masses: Tensor) -> dict[str, Tensor]:
    """How far the cluster masses of every gene are from uniform.

    Args:
        masses: (G, V) non-negative cluster masses, each row summing to 1.

    Returns:
        ``max_min_ratio`` (G,): largest over smallest mass, ``inf`` if a cluster is empty;
        ``perplexity_ratio`` (G,): ``exp(entropy) / V``, 1 for uniform masses, ``1/V`` for one cluster;
        ``empty_fraction`` (G,): fraction of clusters with zero mass.
    """
    if masses.ndim != 2 or masses.shape[1] == 0:
        raise ValueError(f"masses must have shape (G, V) with V >= 1, got {tuple(masses.shape)}")
    if (masses < 0).any():
        raise ValueError("masses must be non-negative")
    masses = masses.to(torch.promote_types(masses.dtype, torch.float32))
    largest, smallest = masses.max(1).values, masses.min(1).values
    ratio = torch.where(smallest > 0, largest / smallest.clamp(min=torch.finfo(masses.dtype).tiny), torch.inf)
    entropy = -torch.special.xlogy(masses, masses).sum(1)  # 0 log 0 = 0
    return {
        "max_min_ratio": ratio,
        "perplexity_ratio": entropy.exp() / masses.shape[1],
        "empty_fraction": (masses == 0).to(masses.dtype).mean(1),
    }


# ----------------------------------------------------------------------------------------------
# internals: every function works on the g active genes of already centred data


def _check_data(data: Tensor, num_centroids: int) -> None:
    if not isinstance(data, Tensor) or data.ndim != 3:
        shape = tuple(data.shape) if isinstance(data, Tensor) else type(data).__name__
        raise ValueError(f"data must have shape (G, N, D): G problems of N points in D dimensions, got {shape}")
    if not data.dtype.is_floating_point:
        raise ValueError(f"data must be floating point, got {data.dtype}")
    if min(data.shape) < 1:
        raise ValueError(f"data must have G, N, D >= 1, got shape {tuple(data.shape)}")
    if isinstance(num_centroids, bool) or not isinstance(num_centroids, int) or num_centroids < 1:
        raise ValueError(f"num_centroids must be a positive integer, got {num_centroids!r}")
    if num_centroids > data.shape[1]:
        raise ValueError(
            f"num_centroids (V = {num_centroids}) must not exceed the points per problem (N = {data.shape[1]})"
        )
    if not torch.isfinite(data).all():
        raise ValueError("data contains NaN or infinite values")


def _best_two(
    points: Tensor,
    centroids: Tensor,
    offsets: Tensor | None,
    chunk_size: int,
    second: bool,
    *,
    hint: Tensor | None = None,
    runner_index: bool = True,
    runner_hint: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """The lowest (and second lowest) ``score = ||c_v||^2 - 2 x.c_v + offset_v`` for every point.

    ``score + ||x||^2`` is the squared distance (plus the offset). Ties go to ``hint`` when it
    attains the minimum (so points do not flip between tied centroids), else to the lowest index
    (``torch.min`` returns the first minimum). The hint is also what makes late Lloyd iterations
    cheap: a minimum value alone (``amin``) is several times faster than a minimum with its index,
    which is then only computed for the points whose hinted cluster lost.

    Args:
        points: (g, n, D).
        centroids: (g, V, D).
        offsets: (g, V) added to every score (prices; ``inf`` excludes a cluster), or None.
        chunk_size: at most this many points per gene scored at once, memory (g, chunk_size, V); on a
            CPU the blocks are cut further to about 250k scores, which stay in cache.
        second: also return the runner-up score.
        hint: (g, n) a previous assignment, or None.
        runner_index: with ``second``, also return the runner-up index (else None).
        runner_hint: (g, n) a previous runner-up, used like ``hint`` for the runner-up index.

    Returns:
        best (g, n) int64, best score (g, n), and with ``second`` the runner-up index and score.
    """
    num_genes, num_points, _ = points.shape
    num_centroids = centroids.shape[1]
    bias = (centroids * centroids).sum(-1)  # (g, V)
    if offsets is not None:
        bias = bias + offsets
    bias = bias[:, None, :]  # (g, 1, V)
    transposed = centroids.transpose(1, 2)  # (g, D, V)
    rows, genes_per_block = min(chunk_size, num_points), num_genes
    if points.device.type == "cpu":  # blocks of about _CPU_BLOCK scores stay in cache from product to minimum
        rows = max(1, min(rows, _CPU_BLOCK // num_centroids))
        genes_per_block = max(1, min(num_genes, _CPU_BLOCK // (rows * num_centroids)))
    best = torch.empty(num_genes, num_points, dtype=torch.long, device=points.device)
    best_score = torch.empty(num_genes, num_points, dtype=points.dtype, device=points.device)
    runner_score = torch.empty_like(best_score) if second else None
    runner = torch.empty_like(best) if second and runner_index else None
    for first in range(0, num_genes, genes_per_block):
        genes = slice(first, first + genes_per_block)
        for start in range(0, num_points, rows):
            span = slice(start, start + rows)
            scores = torch.baddbmm(bias[genes], points[genes, span], transposed[genes], alpha=-2)  # (g', n', V)
            if hint is None:
                value, index = scores.min(-1)
            else:
                value = scores.amin(-1)
                index = hint[genes, span].clone()
                lost = scores.gather(2, index[:, :, None]).squeeze(2) != value  # (g', n')
                if lost.any():
                    index[lost] = scores[lost].min(-1).indices
            best[genes, span], best_score[genes, span] = index, value
            if second:
                scores.scatter_(2, index[:, :, None], torch.inf)
                if runner_index and runner_hint is None:
                    runner_score[genes, span], runner[genes, span] = scores.min(-1)
                else:
                    value = scores.amin(-1)
                    runner_score[genes, span] = value
                    if runner_index:
                        index = runner_hint[genes, span].clone()
                        lost = scores.gather(2, index[:, :, None]).squeeze(2) != value
                        if lost.any():
                            index[lost] = scores[lost].min(-1).indices
                        runner[genes, span] = index
    return best, best_score, runner, runner_score


def _squared_distances(points: Tensor, centroids: Tensor, assignment: Tensor, chunk_size: int) -> Tensor:
    """(g, n, D) points, (g, V, D) centroids, (g, n) assignment -> (g, n) exact ||x - c_a(x)||^2."""
    dim = points.shape[2]
    out = []
    for start in range(0, points.shape[1], chunk_size):
        index = assignment[:, start : start + chunk_size]
        nearest = centroids.gather(1, index[:, :, None].expand(-1, -1, dim))  # (g, n, D)
        out.append((points[:, start : start + chunk_size] - nearest).square().sum(-1))
    return torch.cat(out, 1)


def _update(points: Tensor, assignment: Tensor, squared: Tensor, centroids: Tensor, chunk_size: int) -> Tensor:
    """Lloyd's update: the mean of every cluster; empty clusters re-seeded at the farthest points.

    Args:
        points: (g, n, D).
        assignment: (g, n) cluster of every point.
        squared: (g, n) squared distance of every point to its current centroid.
        centroids: (g, V, D) current centroids (only their shape is used).
        chunk_size: points per gene summed at once.

    Returns:
        (g, V, D) new centroids.
    """
    num_genes, num_points, dim = points.shape
    num_centroids = centroids.shape[1]
    offset = torch.arange(num_genes, device=points.device)[:, None] * num_centroids  # (g, 1)
    sums = torch.zeros(num_genes * num_centroids, dim, dtype=torch.float64, device=points.device)
    for start in range(0, num_points, chunk_size):
        flat = (assignment[:, start : start + chunk_size] + offset).reshape(-1)
        sums.index_add_(0, flat, points[:, start : start + chunk_size].reshape(-1, dim).to(torch.float64))
    counts = torch.bincount((assignment + offset).reshape(-1), minlength=num_genes * num_centroids)
    means = (sums / counts.clamp(min=1)[:, None]).reshape(num_genes, num_centroids, dim).to(points.dtype)
    empty = (counts == 0).reshape(num_genes, num_centroids)  # (g, V)
    if not empty.any():
        return means
    # the i-th empty cluster of a gene takes its i-th farthest point (distinct points, since V <= N)
    farthest = torch.argsort(squared, dim=1, descending=True, stable=True)[:, : int(empty.sum(1).max())]
    rank = (empty.cumsum(1) - 1).clamp(min=0)  # (g, V) position among the gene's empty clusters
    chosen = farthest.gather(1, rank.clamp(max=farthest.shape[1] - 1))  # (g, V) point index
    seeds = points.gather(1, chosen[:, :, None].expand(-1, -1, dim))  # (g, V, D)
    logger.debug("k-means: re-seeding %d empty clusters", int(empty.sum()))
    return torch.where(empty[:, :, None], seeds, means)


def _assign(
    points: Tensor, centroids: Tensor, prices: Tensor | None, chunk_size: int, hint: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Assignment step: nearest centroid, or the balanced assignment when ``prices`` are given.

    Args:
        points: (g, n, D) centred points.
        centroids: (g, V, D).
        prices: (g, V) dual prices of the balanced step (from the previous step), or None.
        chunk_size: points per gene scored at once.
        hint: (g, n) the previous assignment (speeds up the pass, breaks ties), or None.

    Returns:
        assignment (g, n), squared distances (g, n), and the prices (g, V) for the next step (None
        if unbalanced).
    """
    if prices is None:
        assignment = _best_two(points, centroids, None, chunk_size, second=False, hint=hint)[0]
        return assignment, _squared_distances(points, centroids, assignment, chunk_size), None
    # 1-2. a priced pass (best and runner-up score of every point), and Jacobi price steps while far
    #      from balance; on a large problem these first run on a strided subsample (prices hardly
    #      depend on how many points there are), down to 5% misplaced, about its sampling noise
    num_points = points.shape[1]
    stride = num_points // _JACOBI_SAMPLE
    if stride >= 2:
        prices = _balance_prices(points[:, ::stride], centroids, prices, chunk_size, None, 0.05)[0]
    prices, best, best_score, runner_score, counts, jacobi = _balance_prices(
        points, centroids, prices, chunk_size, hint, _AUCTION_SWITCH
    )
    # 3. the capacitated assignment by the auction, warm-started from the prices
    capacity = _capacities(counts, prices)
    misplaced = (counts - capacity).clamp(min=0).sum(1) / num_points  # (g,)
    margin = (runner_score - best_score).to(torch.float64)  # (g, n) >= 0, inf when V == 1
    nearest = points.square().sum(-1) + best_score - prices.gather(1, best)  # (g, n) squared distance
    increment = _AUCTION_INCREMENT * nearest.to(torch.float64).mean(1).clamp(min=1e-30)  # (g,)
    assignment, prices, rounds, tail = _auction(
        points, centroids, prices.to(torch.float64), best, margin, capacity, increment, chunk_size
    )
    logger.debug(
        "balanced assignment: %d Jacobi steps, misplaced up to %.4f, %d auction rounds, %d points placed greedily",
        jacobi,
        float(misplaced.max()),
        rounds,
        tail,
    )
    prices = (prices - prices.mean(1, keepdim=True)).to(points.dtype)  # only differences matter
    return assignment, _squared_distances(points, centroids, assignment, chunk_size), prices


def _balance_prices(
    points: Tensor, centroids: Tensor, prices: Tensor, chunk_size: int, hint: Tensor | None, target: float
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, int]:
    """Priced pass, then damped Jacobi price steps at fixed centroids (one pass each) for the genes
    where more than ``target`` of the points would have to move, at most ``_JACOBI_STEPS``.

    Args:
        points: (g, n, D); centroids: (g, V, D); prices: (g, V); hint: (g, n) or None.
        target: fraction of misplaced points at which a gene stops.

    Returns:
        prices (g, V), priced best (g, n), best score (g, n), runner-up score (g, n), counts (g, V)
        at the priced best, and the number of Jacobi steps.
    """
    num_genes, num_points, _ = points.shape
    num_centroids = centroids.shape[1]
    offset = torch.arange(num_genes, device=points.device)[:, None] * num_centroids  # (g, 1)

    def priced_pass(genes: Tensor, runner_index: bool) -> None:  # fills the state of these genes
        found = _best_two(
            points[genes],
            centroids[genes],
            prices[genes],
            chunk_size,
            True,
            hint=None if hint is None else hint[genes],
            runner_index=runner_index,
            runner_hint=runner[genes] if runner_index and bool(with_runner[genes].all()) else None,
        )
        best[genes], best_score[genes], runner_score[genes] = found[0], found[1], found[3]
        if runner_index:
            runner[genes] = found[2]
        flat = (found[0] + offset[: len(genes)]).reshape(-1)
        counts[genes] = torch.bincount(flat, minlength=len(genes) * num_centroids).reshape(len(genes), -1)

    prices = prices.clone()
    best = torch.empty(num_genes, num_points, dtype=torch.long, device=points.device)
    runner = torch.empty_like(best)
    best_score = torch.empty(num_genes, num_points, dtype=points.dtype, device=points.device)
    runner_score = torch.empty_like(best_score)
    counts = torch.empty(num_genes, num_centroids, dtype=torch.long, device=points.device)
    with_runner = torch.zeros(num_genes, dtype=torch.bool, device=points.device)  # runner holds indices
    priced_pass(torch.arange(num_genes, device=points.device), runner_index=False)
    jacobi = 0
    for jacobi in range(_JACOBI_STEPS + 1):  # noqa: B007
        misplaced = (counts - _capacities(counts, prices)).clamp(min=0).sum(1) / num_points  # (g,)
        far = torch.nonzero(misplaced > target).squeeze(1)
        if not len(far) or jacobi == _JACOBI_STEPS:
            break
        hint = best.clone()
        fresh = far[~with_runner[far]]
        if len(fresh):  # the Jacobi step needs the runner-up clusters
            priced_pass(fresh, runner_index=True)
            with_runner[fresh] = True
        margin = (runner_score[far] - best_score[far]).to(torch.float64)
        stepped = _jacobi_prices(prices[far], best[far], runner[far], margin, counts[far])
        prices[far] = stepped - stepped.mean(1, keepdim=True)
        hint = best.clone()
        priced_pass(far, runner_index=True)
    return prices, best, best_score, runner_score, counts, jacobi


def _capacities(counts: Tensor, prices: Tensor) -> Tensor:
    """(g, V) counts at the priced nearest, (g, V) prices -> (g, V) capacities floor/ceil(n/V).

    The ``n mod V`` clusters in most demand get one more point: the highest prices first (so the
    choice agrees with the dual bound of :func:`_dual_bound` at convergence), then the most points
    (all prices are 0 at the start).
    """
    num_points = int(counts[0].sum())
    base, extra = divmod(num_points, counts.shape[1])
    order = torch.argsort(-counts, dim=1, stable=True)  # (g, V)
    order = order.gather(1, torch.argsort(-prices.gather(1, order), dim=1, stable=True))
    rank = torch.argsort(order, dim=1)  # (g, V) 0 = most demand
    return base + (rank < extra).long()


def _sorted_groups(groups: Tensor, order: Tensor, num_groups: int) -> tuple[Tensor, Tensor, Tensor]:
    """Stable grouping of a priority order.

    Args:
        groups: (M,) group of every element, in [0, num_groups).
        order: (M,) permutation listing the elements by priority.
        num_groups: number of groups.

    Returns:
        grouped (M,) elements by group, by priority within a group; starts (num_groups,) where each
        group begins in ``grouped``; sizes (num_groups,).
    """
    grouped = order[torch.argsort(groups[order], stable=True)]
    sizes = torch.bincount(groups, minlength=num_groups)
    return grouped, sizes.cumsum(0) - sizes, sizes


def _kth_in_group(values: Tensor, grouped: Tensor, starts: Tensor, k: Tensor) -> Tensor:
    """(M,) values, grouping of :func:`_sorted_groups`, (K,) k >= 1 -> (K,) k-th value of each group."""
    position = (starts + k - 1).clamp(0, max(values.numel() - 1, 0))
    return values[grouped[position]]


def _keep_highest(key: Tensor, bid: Tensor, capacity: Tensor) -> tuple[Tensor, Tensor]:
    """Every cluster keeps its ``capacity`` highest bidders.

    Args:
        key: (M,) cluster of every point, numbered across genes (gene * V + cluster).
        bid: (M,) bids; ties go to the lower position.
        capacity: (K,) places per cluster.

    Returns:
        kept (M,) bool and rank (M,) of every point among its cluster's points, highest bid first.
    """
    grouped, starts, _ = _sorted_groups(key, torch.argsort(-bid, stable=True), capacity.numel())
    rank = torch.empty_like(grouped)
    rank[grouped] = torch.arange(grouped.numel(), device=key.device) - starts[key[grouped]]
    return rank < capacity[key], rank


def _padded(genes: Tensor, items: Tensor, num_genes: int) -> tuple[Tensor, Tensor]:
    """(M,) genes in ascending order, (M,) items -> (g, m) items per gene (0-padded), (M,) columns."""
    count = torch.bincount(genes, minlength=num_genes)
    column = torch.arange(genes.numel(), device=genes.device) - (count.cumsum(0) - count)[genes]
    table = torch.zeros(num_genes, int(count.max()), dtype=items.dtype, device=items.device)
    table[genes, column] = items
    return table, column


def _jacobi_prices(prices: Tensor, best: Tensor, runner: Tensor, margin: Tensor, counts: Tensor) -> Tensor:
    """One damped Jacobi coordinate step on the dual prices.

    An over-full cluster raises its price by the k-th smallest margin of its members (k its excess:
    that would push out exactly k points if the other prices stood still), an under-full one lowers
    it by the k-th smallest margin of the points that rank it second (at least by the median
    margin when fewer than k do). Damping 1/2, because a point moving from an over- to an under-full cluster is counted by
    both.

    Args:
        prices: (g, V) current prices.
        best: (g, n) priced nearest cluster; runner: (g, n) priced runner-up.
        margin: (g, n) float64 runner-up score minus best score.
        counts: (g, V) points per cluster at the priced nearest.

    Returns:
        (g, V) next prices.
    """
    num_genes, num_points = best.shape
    num_centroids = counts.shape[1]
    offset = torch.arange(num_genes, device=best.device)[:, None] * num_centroids
    flat = margin.reshape(-1)
    by_margin = torch.argsort(flat, stable=True)
    first, first_starts, _ = _sorted_groups((best + offset).reshape(-1), by_margin, counts.numel())
    second, second_starts, second_sizes = _sorted_groups((runner + offset).reshape(-1), by_margin, counts.numel())
    excess = (counts.to(torch.float64) - num_points / num_centroids).reshape(-1)  # (g*V,)
    over = excess.round().clamp(min=0).long()
    deficit = (-excess).round().clamp(min=0).long()
    under = torch.minimum(deficit, second_sizes)
    raise_by = torch.where(over > 0, _kth_in_group(flat, first, first_starts, over), 0)
    lower_by = torch.where(under > 0, _kth_in_group(flat, second, second_starts, under), 0)
    # too few points rank the cluster second: lower by at least the gene's median margin, so that
    # it starts to attract points instead of stalling
    median = flat.reshape(num_genes, num_points).nan_to_num(posinf=0.0).median(1).values  # (g,)
    median = median.repeat_interleave(num_centroids)  # (g*V,)
    lower_by = torch.where(deficit > under, torch.maximum(lower_by, median), lower_by)
    step = (raise_by - lower_by).nan_to_num(nan=0.0, posinf=0.0, neginf=0.0).reshape(num_genes, num_centroids)
    return prices + (_PRICE_DAMPING * step).to(prices.dtype)


def _place_greedily(
    points: Tensor,
    centroids: Tensor,
    prices: Tensor,
    genes: Tensor,
    waiting: Tensor,
    room: Tensor,
    assignment: Tensor,
    chunk_size: int,
) -> None:
    """Place waiting points in the clusters with room, in rounds, writing ``assignment`` in place.

    Each round every waiting point proposes to its best cluster (by priced score) that has room; a
    cluster accepts the proposers with the largest regret (gap to their next choice) up to its room.
    A round fills a cluster or places everyone, so there are at most V rounds.

    Args:
        points: (g, n, D); centroids: (g, V, D); prices: (g, V).
        genes: (M,) gene of every waiting point, ascending; waiting: (M,) its index.
        room: (g, V) free places, summing to the waiting points of every gene.
        assignment: (g, n) written for the waiting points.
        chunk_size: points per gene scored at once.
    """
    num_genes, _, dim = points.shape
    num_centroids = centroids.shape[1]
    for _ in range(num_centroids):
        if not genes.numel():
            return
        index, column = _padded(genes, waiting, num_genes)  # (g, m)
        subset = points.gather(1, index[:, :, None].expand(-1, -1, dim))  # (g, m, D)
        closed = torch.where(room > 0, 0.0, torch.inf).to(points.dtype)
        choice, choice_score, _, next_score = _best_two(
            subset, centroids, prices.to(points.dtype) + closed, chunk_size, second=True, runner_index=False
        )
        choice = choice[genes, column]
        regret = (next_score - choice_score)[genes, column]  # inf when one cluster is left
        key = choice + genes * num_centroids
        accepted, _ = _keep_highest(key, regret, room.reshape(-1))
        assignment[genes[accepted], waiting[accepted]] = choice[accepted]
        room = room - torch.bincount(key[accepted], minlength=room.numel()).reshape(room.shape)
        genes, waiting = genes[~accepted], waiting[~accepted]
    if genes.numel():
        raise RuntimeError("balanced assignment: greedy placement did not finish (a bug)")


def _auction(
    points: Tensor,
    centroids: Tensor,
    prices: Tensor,
    best: Tensor,
    margin: Tensor,
    capacity: Tensor,
    increment: Tensor,
    chunk_size: int,
) -> tuple[Tensor, Tensor, int, int]:
    """Capacitated assignment by a Jacobi auction (Bertsekas), warm-started from dual prices.

    A cluster has ``capacity`` slots; its price is its lowest slot bid. Every point starts in its
    priced-nearest cluster with bid ``price + margin`` (the most it would pay), each cluster keeps its
    highest bidders, and in each round every unplaced point bids ``price + margin + increment`` for
    its best cluster at the current prices, displacing that cluster's lowest bids. Prices only rise,
    every point satisfies increment-complementary slackness, so the result is within ``increment``
    per bidding point of the optimum with these capacities.

    Args:
        points: (g, n, D); centroids: (g, V, D).
        prices: (g, V) float64 starting prices (those of the pass that gave ``best`` and ``margin``).
        best: (g, n) priced nearest; margin: (g, n) float64 runner-up score minus best score.
        capacity: (g, V) places per cluster (floor or ceil of n/V); increment: (g,) float64.
        chunk_size: points per gene scored at once.

    Returns:
        assignment (g, n), final prices (g, V) float64, number of rounds, number of points placed
        greedily (the tail, see the loop).
    """
    num_genes, num_points, dim = points.shape
    num_centroids = centroids.shape[1]
    num_groups = num_genes * num_centroids
    device = points.device
    offset = torch.arange(num_genes, device=device)[:, None] * num_centroids  # (g, 1)
    key = (best + offset).reshape(-1)  # (g*n,)
    bid = (prices.gather(1, best) + margin).reshape(-1)  # (g*n,) the most each point would pay
    kept, rank = _keep_highest(key, bid, capacity.reshape(-1))
    # slots of every cluster, at first highest bid first (rows are not kept sorted later): [a
    # disabled slot at +inf when its capacity is the smaller one], its holders' bids, then empty
    # slots at the starting price
    width = int(capacity.max())
    disabled = (width - capacity).reshape(-1)  # (g*V,) 0 or 1
    slot_bid = prices.reshape(-1, 1).repeat(1, width)  # (g*V, width)
    slot_bid[:, 0] = torch.where(disabled > 0, torch.inf, slot_bid[:, 0])
    slot_holder = torch.full((num_groups, width), -1, dtype=torch.long, device=device)
    column = rank[kept] + disabled[key[kept]]
    slot_bid[key[kept], column] = bid[kept]
    slot_holder[key[kept], column] = torch.arange(num_points, device=device).repeat(num_genes)[kept]
    price = slot_bid[:, -1].clone()  # (g*V,) the lowest slot is the entry price (rows start sorted)
    kept = kept.reshape(num_genes, num_points)
    assignment = torch.where(kept, best, -1)
    genes, waiting = torch.nonzero(~kept).unbind(1)  # gene-major order
    cut = int(num_points * _AUCTION_TAIL)
    tail_genes, tail_points = [], []
    rounds = 0
    while genes.numel():
        # the last few unplaced points of a gene mostly wander (each displaces the weakest holder of
        # its best cluster until a chain reaches a cluster with room): hand them to greedy placement,
        # as every gene after _AUCTION_ROUNDS rounds
        stop = torch.bincount(genes, minlength=num_genes)[genes] <= cut
        if rounds == _AUCTION_ROUNDS:
            stop = torch.ones_like(stop)
        if stop.any():
            tail_genes.append(genes[stop])
            tail_points.append(waiting[stop])
            genes, waiting = genes[~stop], waiting[~stop]
            if not genes.numel():
                break
        rounds += 1
        index, column = _padded(genes, waiting, num_genes)  # (g, m)
        subset = points.gather(1, index[:, :, None].expand(-1, -1, dim))  # (g, m, D)
        choice, choice_score, _, next_score = _best_two(
            subset,
            centroids,
            price.reshape(num_genes, -1).to(points.dtype),
            chunk_size,
            second=True,
            runner_index=False,
        )
        choice = choice[genes, column]
        bidder_key = choice + genes * num_centroids  # (M,)
        offer = price[bidder_key] + (next_score - choice_score)[genes, column] + increment[genes]
        # merge each cluster's k bids with its k lowest slots (the rows are not kept sorted); the k
        # highest stay (ties: the incumbent). A cluster never keeps more than ``width`` bids.
        _, within = _keep_highest(bidder_key, offer, capacity.reshape(-1))
        affected, row = torch.unique(bidder_key, return_inverse=True)  # (A,) clusters receiving bids
        k = min(int(within.max()) + 1, width)
        new_bid = torch.full((len(affected), k), -torch.inf, dtype=torch.float64, device=device)
        new_holder = torch.full(new_bid.shape, -1, dtype=torch.long, device=device)
        fits = within < k
        new_bid[row[fits], within[fits]] = offer[fits]
        new_holder[row[fits], within[fits]] = waiting[fits]
        low_bid, position = slot_bid[affected].topk(k, dim=1, largest=False, sorted=True)  # (A, k)
        low_holder = slot_holder[affected].gather(1, position)
        merged_bid, order = torch.cat([low_bid.flip(1), new_bid], 1).sort(dim=1, descending=True, stable=True)
        merged_holder = torch.cat([low_holder.flip(1), new_holder], 1).gather(1, order)
        rows = affected[:, None].expand(-1, k)
        slot_bid[rows, position.flip(1)] = merged_bid[:, :k]
        slot_holder[rows, position.flip(1)] = merged_holder[:, :k]
        price[affected] = slot_bid[affected].amin(1)
        # bidders are in; the displaced (outbid holders, losing bidders) bid in the next round
        assignment[genes, waiting] = choice
        out = merged_holder[:, k:]  # (A, k)
        late = torch.nonzero(~fits).squeeze(1)  # beyond a cluster's width: lost at once
        if len(late):
            assignment[genes[late], waiting[late]] = -1
        out_genes = (affected // num_centroids)[:, None].expand_as(out)
        genes_out, waiting_out = out_genes[out >= 0], out[out >= 0]
        assignment[genes_out, waiting_out] = -1
        if len(late):
            genes_out, order = torch.cat([genes_out, genes[late]]).sort(stable=True)
            waiting_out = torch.cat([waiting_out, waiting[late]])[order]
        genes, waiting = genes_out, waiting_out
    prices = price.reshape(num_genes, num_centroids)
    tail = sum(len(part) for part in tail_genes)
    if tail:
        genes, order = torch.cat(tail_genes).sort(stable=True)
        waiting = torch.cat(tail_points)[order]
        room = ((slot_holder < 0) & (slot_bid < torch.inf)).sum(1).reshape(num_genes, num_centroids)
        _place_greedily(points, centroids, prices, genes, waiting, room, assignment, chunk_size)
    return assignment, prices, rounds, tail


def _dual_bound(points: Tensor, centroids: Tensor, prices: Tensor, chunk_size: int) -> Tensor:
    """Lower bound (g,) on the mean squared distance of every floor/ceil(n/V)-capacitated assignment.

    For any prices p and any assignment a with capacities cap, ``sum_i d(i, a_i) = sum_i (d(i, a_i) +
    p_a_i) - sum_v cap_v p_v >= sum_i min_v (d_iv + p_v) - sum_v cap_v p_v``; the last sum is
    bounded for every choice of the ``n mod V`` larger clusters by taking the largest prices.
    """
    num_points, num_centroids = points.shape[1], centroids.shape[1]
    _, best_score, _, _ = _best_two(points, centroids, prices.to(points.dtype), chunk_size, second=False)
    nearest = points.square().sum(-1).to(torch.float64) + best_score.to(torch.float64)  # (g, n)
    base, extra = divmod(num_points, num_centroids)
    prices = prices.to(torch.float64)
    payment = base * prices.sum(1) + prices.topk(extra, dim=1).values.sum(1)  # (g,)
    return nearest.mean(1) - payment / num_points
