"""Kernel Inception Distance (Bińkowski et al. 2018) as StyleGAN2-ADA computes it.

The unbiased estimate of the squared MMD with the cubic polynomial kernel
``k(x, y) = (x . y / F + 1)^3``, averaged over ``num_subsets`` random subsets of
``min(N_real, N_fake, max_subset_size)`` samples from each side (StyleGAN2-ADA: 100 subsets of 1000).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x . y / F + 1)^3 for rows of x (M, F) and y (K, F) -> (M, K)."""
    return (x @ y.T / x.shape[1] + 1) ** 3


def kernel_inception_distance(
    real: Tensor | np.ndarray,
    fake: Tensor | np.ndarray,
    *,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    generator: np.random.Generator,
) -> float:
    """Unbiased MMD^2 between real (N, F) and fake (M, F) features, averaged over random subsets.

    Args:
        real: (N, F) features of real images.
        fake: (M, F) features of generated images.
        num_subsets: subsets drawn (each a draw without replacement from both sides).
        max_subset_size: at most this many samples per subset.
        generator: numpy random generator choosing the subsets.
    """
    real = torch.as_tensor(real).detach().cpu().double().numpy()
    fake = torch.as_tensor(fake).detach().cpu().double().numpy()
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (N, F) with the same F, got {real.shape} and {fake.shape}")
    m = min(len(real), len(fake), max_subset_size)
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples on each side, got {len(real)} real and {len(fake)} fake")
    total = 0.0
    for _ in range(num_subsets):
        x = fake[generator.choice(len(fake), m, replace=False)]
        y = real[generator.choice(len(real), m, replace=False)]
        within = polynomial_kernel(x, x) + polynomial_kernel(y, y)  # (m, m)
        across = polynomial_kernel(x, y)  # (m, m)
        total += (within.sum() - np.diag(within).sum()) / (m - 1) - across.sum() * 2 / m
    return float(total / num_subsets / m)
