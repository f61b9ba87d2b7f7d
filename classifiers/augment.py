"""Batch augmentation for classifier training: label-preserving changes, drawn from an explicit generator.

All operations act on float images (B, 3, R, R) in [-1, 1] and keep attribute labels valid: mirror,
small shifts, a little brightness/contrast, sensor noise, and down-up resampling, which makes the
classifier robust to low-resolution (e.g. 32-px GAN) inputs that are upsampled before scoring.
Colour changes stay small on purpose: hair colour, pale skin and rosy cheeks are colour attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    """Strength of each augmentation; 0 turns one off."""

    flip: bool = True  # mirror left-right (CelebA attributes are symmetric)
    max_shift: float = 0.06  # largest shift, as a fraction of the image size
    brightness: float = 0.06  # largest added brightness, in [-1, 1] units
    contrast: float = 0.08  # largest relative contrast change
    noise: float = 0.03  # largest std of added Gaussian noise, in [-1, 1] units
    resample_probability: float = 0.5  # fraction of batches resampled down and up again
    min_resample_fraction: float = 0.5  # smallest intermediate size, as a fraction of R

    def __post_init__(self) -> None:
        for name in ("max_shift", "brightness", "contrast", "noise", "resample_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"augmentation {name} must be in [0, 1], got {value}")
        if not 0.0 < self.min_resample_fraction <= 1.0:
            raise ValueError(f"min_resample_fraction must be in (0, 1], got {self.min_resample_fraction}")


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator, device) -> Tensor:
    return torch.rand(shape, generator=generator, device=device) * (high - low) + low


def augment_batch(images: Tensor, config: AugmentConfig, generator: torch.Generator) -> Tensor:
    """A randomly changed copy of ``images``.

    Args:
        images: (B, 3, R, R) float in [-1, 1].
        config: strengths.
        generator: on the images' device; the only source of randomness.
    Returns:
        (B, 3, R, R) float in [-1, 1].
    """
    batch, _, size, _ = images.shape
    device = images.device
    x = images

    # 1. Mirror a random half of the batch.
    if config.flip:
        flip = torch.rand(batch, generator=generator, device=device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)

    # 2. Shift by up to max_shift of the size (bilinear, border pixels repeated).
    if config.max_shift > 0:
        theta = torch.zeros(batch, 2, 3, device=device)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        theta[:, :, 2] = _uniform((batch, 2), -2 * config.max_shift, 2 * config.max_shift, generator, device)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    # 3. Down-up resampling to one random intermediate size for the whole batch.
    if config.resample_probability > 0:
        if torch.rand((), generator=generator, device=device).item() < config.resample_probability:
            low = max(4, round(size * config.min_resample_fraction))
            middle = int(torch.randint(low, size + 1, (), generator=generator, device=device).item())
            if middle < size:
                x = F.interpolate(x, size=(middle, middle), mode="bilinear", antialias=True, align_corners=False)
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)

    # 4. Brightness and contrast per image, then sensor noise.
    if config.contrast > 0 or config.brightness > 0:
        contrast = _uniform((batch, 1, 1, 1), 1 - config.contrast, 1 + config.contrast, generator, device)
        brightness = _uniform((batch, 1, 1, 1), -config.brightness, config.brightness, generator, device)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * contrast + mean + brightness
    if config.noise > 0:
        std = _uniform((batch, 1, 1, 1), 0.0, config.noise, generator, device)
        x = x + std * torch.randn(x.shape, generator=generator, device=device)
    return x.clamp(-1.0, 1.0)
