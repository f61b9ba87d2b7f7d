"""Pearson correlations between attributes from summable moments (StyleGenes Appendix E).

``moments`` of each part (a shard, a GPU's share) add up to the moments of the whole; the finishing
steps ``correlation_from_moments`` and ``variance_from_moments`` turn the totals into statistics.
``score_moments`` streams the classifier outputs of a stats directory shard by shard.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genomekit.stats.store import read_shard


def moments(values: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Summable moments of (N, A) values: count N, sum (A,) and sum of outer products (A, A), in float64."""
    x = np.asarray(values, dtype=np.float64)
    return len(x), x.sum(0), x.T @ x


def score_moments(
    stats_dir: Path, manifest: dict, attributes: Sequence[str], on_shard: Callable[[int], object] | None = None
) -> tuple[int, np.ndarray, np.ndarray]:
    """``moments`` of the per-sample classifier outputs (N, A) of a stats directory, summed shard by shard.

    Memory holds one shard. ``on_shard`` is called with each shard's row count.
    """
    num_genes = int(manifest["identity"]["genome_shape"][0])
    a = len(attributes)
    count, total, outer = 0, np.zeros(a), np.zeros((a, a))
    for entry in manifest["shards"]:
        _, _, scores, _ = read_shard(stats_dir / entry["file"], num_genes, attributes)
        n, shard_total, shard_outer = moments(scores.to(torch.float64).numpy())
        count, total, outer = count + n, total + shard_total, outer + shard_outer
        if on_shard is not None:
            on_shard(n)
    return count, total, outer


def variance_from_moments(count: int, total: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """Population variance (A,) of each attribute from ``moments`` (clipped at 0 against rounding)."""
    return np.clip(outer.diagonal() / count - (total / count) ** 2, 0, None)


def correlation_from_moments(count: int, total: np.ndarray, outer: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """Pearson correlation (A, A) from ``moments``: count, sum (A,), sum of outer products (A, A).

    Attributes that never vary get NaN rows and columns.
    """
    mean = total / count
    cov = outer / count - np.outer(mean, mean)
    std = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(std, std)
    return pd.DataFrame(corr, index=list(names), columns=list(names))
