"""Discriminator-based variant pruning (StyleGenes Appendix C).

The expected realness of a variant is the mean discriminator logit over the collected samples that
contain it (the same Monte-Carlo estimate as eq. 7). Pruning ``X`` variants of a gene overwrites its
``X`` least real variants with copies of its ``X`` most real ones (least real <- most real, second
least <- second most, ...), so the genome keeps its shape but samples fewer "fake-looking" variants;
the paper's Table 5 finds a small FID gain for moderate X and a loss for large X.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genomekit.genome import Genome


def pruning_plan(realness: Tensor, count: int) -> tuple[Tensor, Tensor]:
    """Which variants to overwrite with which, per gene.

    Args:
        realness: (G, V) expected realness per variant; NaN (never seen) counts as least real.
        count: X, variants replaced per gene, 0 <= X <= V // 2.
    Returns:
        targets (G, X), least real first, and sources (G, X), most real first.
    """
    num_variants = realness.shape[1]
    if not 0 <= count <= num_variants // 2:
        raise ValueError(f"count must be between 0 and V/2 = {num_variants // 2}, got {count}")
    score = torch.nan_to_num(realness.to(torch.float64), nan=-torch.inf)
    order = torch.argsort(score, dim=1, stable=True)  # (G, V) least real first
    targets = order[:, :count]
    sources = order[:, num_variants - count :].flip(1)
    return targets, sources


def prune_genome(genome: Genome, targets: Tensor, sources: Tensor) -> None:
    """Apply a pruning plan in place: ``genome.genes[i, targets[i, x]] = genome.genes[i, sources[i, x]]``."""
    if targets.shape != sources.shape or targets.shape[0] != genome.num_genes:
        raise ValueError(f"plan of shape {tuple(targets.shape)} does not fit a genome of {genome.num_genes} genes")
    for gene in range(genome.num_genes):
        genome.replace_variants(gene, targets[gene], sources[gene])
