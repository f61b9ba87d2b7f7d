"""Gene standard scores: which genes move which attributes (StyleGenes section 4.2, Figures 2 and 13).

For gene ``i`` and attribute ``a`` the score is the mean absolute standard score of the gene's variants,

    s[i, a] = mean_j |p(a | k_i = j) - mu[i, a]| / sigma[a]

with ``mu[i, a]`` the mean over the gene's variants. We report the **mean** over variants (the paper
writes a sum; the sum is V times the mean, so the ranking is the same and the mean stays comparable
across genomes with different V). ``sigma`` is, by default, the standard deviation of
``p(a | k_i = j)`` over the whole codebook (every gene and variant), the "codebook's" spread: a
per-gene sigma would make every score scale-free and at most 1 (Cauchy-Schwarz: mean |z| <= rms z = 1),
so it could not rank genes by how far they move an attribute. ``scale="gene"`` gives that literal
per-gene reading for comparison.

Variants never seen (NaN estimates) are left out of means and deviations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch
from torch import Tensor

SCALES = ("codebook", "gene")


def gene_standard_scores(p_attr: Tensor, scale: str = "codebook") -> Tensor:
    """Mean absolute standard score per gene and attribute.

    Args:
        p_attr: (G, V, A) estimates ``p(a | k_i = j)`` (eq. 7); NaN where a variant was never seen.
        scale: "codebook" (sigma over all genes and variants, default) or "gene" (sigma per gene).
    Returns:
        (G, A) float64 scores; 0 where an attribute never varies.
    """
    if p_attr.ndim != 3:
        raise ValueError(f"p_attr must have shape (G, V, A), got {tuple(p_attr.shape)}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    p = p_attr.to(torch.float64)
    seen = ~torch.isnan(p)  # (G, V, A)
    n = seen.sum(dim=1).clamp(min=1)  # (G, A)
    p0 = torch.where(seen, p, 0.0)
    mu = p0.sum(dim=1) / n  # (G, A)
    deviation = torch.where(seen, (p - mu.unsqueeze(1)).abs(), 0.0)  # (G, V, A)
    if scale == "gene":
        sigma = (torch.where(seen, (p - mu.unsqueeze(1)) ** 2, 0.0).sum(dim=1) / n).sqrt()  # (G, A)
    else:
        total = seen.sum(dim=(0, 1)).clamp(min=1)  # (A,)
        grand = p0.sum(dim=(0, 1)) / total  # (A,)
        sigma = (torch.where(seen, (p - grand) ** 2, 0.0).sum(dim=(0, 1)) / total).sqrt()  # (A,)
        sigma = sigma.expand_as(mu)
    mean_abs = deviation.sum(dim=1) / n  # (G, A)
    return torch.where(sigma > 0, mean_abs / sigma.clamp(min=1e-300), 0.0)


def noise_floor(p_attr: Tensor, counts: Tensor, sample_variance: Tensor) -> Tensor:
    """The score a gene with no effect on an attribute gets from Monte-Carlo noise alone (scale "codebook").

    Each estimate ``p(a | k_i = j)`` averages ``counts[i, j]`` samples, so it carries a standard error
    ``sqrt(var_a / counts[i, j])``; a gene whose variants differ only by that error scores about
    ``sqrt(2 / pi) * mean_ij(standard error) / sigma[a]``. Genes far above the floor move the attribute;
    genes near it are indistinguishable from noise at this sample count. The estimate assumes the
    per-variant means are Gaussian (central limit); with few samples per variant and a rare attribute
    their distribution is skewed and the floor is an overestimate.

    Args:
        p_attr: (G, V, A) estimates (NaN where never seen), as given to ``gene_standard_scores``.
        counts: (G, V) samples per variant.
        sample_variance: (A,) variance of the per-sample classifier outputs.
    Returns:
        (A,) float64 expected noise-only score per attribute.
    """
    p = p_attr.to(torch.float64)
    seen = ~torch.isnan(p)  # (G, V, A)
    total = seen.sum(dim=(0, 1)).clamp(min=1)  # (A,)
    grand = torch.where(seen, p, 0.0).sum(dim=(0, 1)) / total
    sigma = (torch.where(seen, (p - grand) ** 2, 0.0).sum(dim=(0, 1)) / total).sqrt()  # (A,)
    inv_n = 1.0 / counts.to(torch.float64).clamp(min=1)  # (G, V)
    se = (sample_variance.to(torch.float64).clamp(min=0) * inv_n.unsqueeze(-1)).sqrt()  # (G, V, A)
    mean_se = torch.where(seen, se, 0.0).sum(dim=(0, 1)) / total  # (A,)
    return torch.where(sigma > 0, math.sqrt(2 / math.pi) * mean_se / sigma.clamp(min=1e-300), 0.0)


def scores_frame(scores: Tensor, attributes: Sequence[str]) -> pd.DataFrame:
    """Tidy table: one row per (gene, attribute) with its score and its rank among the attribute's genes.

    Args:
        scores: (G, A) gene standard scores.
    Returns:
        DataFrame with columns gene, attribute, score, rank (1 = the attribute's most important gene),
        sorted by attribute then rank.
    """
    num_genes, num_attributes = scores.shape
    if num_attributes != len(attributes):
        raise ValueError(f"{num_attributes} score columns but {len(attributes)} attribute names")
    frame = pd.DataFrame(
        {
            "gene": torch.arange(num_genes).repeat_interleave(num_attributes).numpy(),
            "attribute": list(attributes) * num_genes,
            "score": scores.reshape(-1).numpy(),
        }
    )
    frame["rank"] = frame.groupby("attribute")["score"].rank(ascending=False, method="first").astype(int)
    order = {a: i for i, a in enumerate(attributes)}
    frame = frame.sort_values(["attribute", "rank"], key=lambda c: c.map(order) if c.name == "attribute" else c)
    return frame.reset_index(drop=True)


def top_genes(scores: Tensor, attributes: Sequence[str], k: int = 3) -> pd.DataFrame:
    """The ``k`` highest-scoring genes of every attribute (rows of ``scores_frame`` with rank <= k)."""
    frame = scores_frame(scores, attributes)
    return frame[frame["rank"] <= k].reset_index(drop=True)
