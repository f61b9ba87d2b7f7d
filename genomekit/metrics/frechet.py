"""Fréchet distance between two Gaussians fitted to feature sets, from summable feature statistics.

``FeatureStats`` keeps the count, the sum ``(F,)`` and the sum of outer products ``(F, F)`` in float64,
so statistics of shards, batches or GPUs add up exactly (``a + b``) and a dataset's statistics can be
cached and streamed. ``frechet_distance`` finishes the computation (Heusel et al. 2017)::

    FD = ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genomekit.fileio import atomic_path


@dataclass(frozen=True)
class FeatureStats:
    """Summable first and second moments of N feature vectors of width F.

    Attributes:
        count: N.
        total: (F,) float64 sum of the features.
        outer: (F, F) float64 sum of the outer products x x^T.
    """

    count: int
    total: np.ndarray
    outer: np.ndarray

    @classmethod
    def empty(cls, width: int) -> FeatureStats:
        return cls(0, np.zeros(width), np.zeros((width, width)))

    @classmethod
    def from_features(cls, features: Tensor | np.ndarray) -> FeatureStats:
        """Statistics of a batch of features (B, F)."""
        x = torch.as_tensor(features).detach().to("cpu", torch.float64)
        if x.ndim != 2:
            raise ValueError(f"features must have shape (B, F), got {tuple(x.shape)}")
        return cls(int(x.shape[0]), x.sum(0).numpy(), (x.T @ x).numpy())

    @property
    def width(self) -> int:
        return int(self.total.shape[0])

    def __add__(self, other: FeatureStats) -> FeatureStats:
        if self.width != other.width:
            raise ValueError(f"cannot add statistics of {self.width} and {other.width} features")
        return FeatureStats(self.count + other.count, self.total + other.total, self.outer + other.outer)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean (F,) and unbiased covariance (F, F), as numpy's ``np.cov(x, rowvar=False)`` gives them."""
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 samples, got {self.count}")
        mu = self.total / self.count
        sigma = (self.outer - self.count * np.outer(mu, mu)) / (self.count - 1)
        return mu, sigma

    def save(self, path: str | Path) -> None:
        """Write the statistics to an .npz file, atomically."""
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, count=np.int64(self.count), total=self.total, outer=self.outer)

    @classmethod
    def load(cls, path: str | Path) -> FeatureStats:
        with np.load(path) as data:
            return cls(int(data["count"]), data["total"].astype(np.float64), data["outer"].astype(np.float64))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigen-decomposition."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``tr((S1 S2)^(1/2))`` is computed as ``tr((A S2 A)^(1/2))`` with ``A = S1^(1/2)``: the same
    eigenvalues, but the matrix is symmetric, so a symmetric eigen-solver does it stably (scipy's
    ``sqrtm(S1 @ S2)``, which StyleGAN uses, agrees to rounding on well-conditioned inputs).

    Args:
        mu1, mu2: (F,) means.
        sigma1, sigma2: (F, F) covariances.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    root1 = _sqrt_psd(sigma1)
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)  # eigenvalues of S1 S2
    trace_sqrt = np.sqrt(np.clip(inner, 0, None)).sum()
    distance = np.square(mu1 - mu2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    return float(max(distance, 0.0))


def frechet_distance_from_stats(a: FeatureStats, b: FeatureStats) -> float:
    """Fréchet distance between the Gaussians fitted to two sets of feature statistics."""
    return frechet_distance(*a.mean_cov(), *b.mean_cov())
