"""How well one image reproduces another: PSNR and SSIM, per image.

Both read images in genomekit's range [-1, 1] and measure them on the [0, 1] scale, so PSNR uses a
peak of 1 and SSIM the usual constants ``C1 = (0.01)^2``, ``C2 = (0.03)^2`` (Wang et al. 2004) with an
11 x 11 Gaussian window of sigma 1.5, computed per channel on the valid part of the image (no
padding) and averaged, as scikit-image's ``structural_similarity(..., gaussian_weights=True,
use_sample_covariance=False)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


def _unit(images: Tensor) -> Tensor:
    return (images.float().clamp(-1, 1) + 1) / 2


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.ndim != 4 or a.shape != b.shape:
        raise ValueError(
            f"images must be two (N, C, H, W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def mse(a: Tensor, b: Tensor) -> Tensor:
    """Mean squared error per image (N,) on the [0, 1] scale of images (N, C, H, W) in [-1, 1]."""
    _check_pair(a, b)
    return (_unit(a) - _unit(b)).square().flatten(1).mean(dim=1)


def psnr(a: Tensor, b: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB per image (N,), peak 1 on the [0, 1] scale (inf when equal)."""
    return -10 * torch.log10(mse(a, b))


def _gaussian_window(size: int, sigma: float, device: torch.device) -> Tensor:
    x = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).float()  # (size,)


def ssim(a: Tensor, b: Tensor, window: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """Structural similarity per image (N,), in [-1, 1], of images (N, C, H, W) in [-1, 1].

    Images smaller than the window use a window of their own size (odd, at least 3).
    """
    _check_pair(a, b)
    x, y = _unit(a), _unit(b)
    channels = x.shape[1]
    size = min(window, min(x.shape[2:]) - (1 - min(x.shape[2:]) % 2))
    if size < 3:
        raise ValueError(f"images of {tuple(x.shape[2:])} px are too small for SSIM")
    g = _gaussian_window(size, sigma, x.device)
    kernel = (g[:, None] * g[None, :]).expand(channels, 1, size, size)  # (C, 1, k, k), separable Gaussian

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, kernel, groups=channels)  # (N, C, H-k+1, W-k+1): valid part only

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return index.flatten(1).mean(dim=1)
