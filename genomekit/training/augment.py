"""Differentiable augmentation (DiffAugment-style) for training on small datasets.

The same random transform is applied to real and fake images seen by the discriminator, and it is
differentiable, so the generator's gradient passes through it. Randomness comes from an explicit
``torch.Generator``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

AUGMENTATIONS = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,translation' -> ('color', 'translation'); '' or 'none' -> ()."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip() and p.strip() != "none")
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(
            f"augment must be a comma-separated list of {', '.join(AUGMENTATIONS)} (or 'none'), "
            f"got {policy!r} ({unknown[0]!r} is unknown)"
        )
    return names


def _uniform(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
    device = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=device).to(like.device, like.dtype)


def augment(images: Tensor, policy: tuple[str, ...], generator: torch.Generator | None) -> Tensor:
    """Apply the augmentations of ``policy`` in order.

    Args:
        images: (B, C, H, W) in [-1, 1].
    Returns:
        (B, C, H, W), differentiable with respect to ``images``.
    """
    x = images
    batch = x.shape[0]
    for name in policy:
        if name == "color":
            x = x + (_uniform((batch, 1, 1, 1), generator, x) - 0.5)  # brightness
            mean = x.mean(dim=1, keepdim=True)
            x = (x - mean) * (_uniform((batch, 1, 1, 1), generator, x) * 2) + mean  # saturation
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * (_uniform((batch, 1, 1, 1), generator, x) + 0.5) + mean  # contrast
        elif name == "translation":
            x = _translate(x, ratio=0.125, generator=generator)
        elif name == "cutout":
            x = _cutout(x, ratio=0.5, generator=generator)
    return x


def _translate(x: Tensor, ratio: float, generator: torch.Generator | None) -> Tensor:
    """Shift each image by up to ``ratio`` of its size (whole pixels), filling with zeros."""
    batch, _, height, width = x.shape
    # Python numbers rather than a tensor built per call (a host-to-device copy); k + 0.5 is exact in
    # float32, so the products are the ones a (2,) tensor of the limits gave.
    limit_x, limit_y = int(width * ratio) + 0.5, int(height * ratio) + 0.5
    signed = _uniform((batch, 2), generator, x) * 2 - 1  # (B, 2) in [-1, 1)
    shift = torch.stack((signed[:, 0] * limit_x, signed[:, 1] * limit_y), dim=1).round()  # (B, 2) pixels
    theta = torch.zeros(batch, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2] = -shift[:, 0] * 2 / width
    theta[:, 1, 2] = -shift[:, 1] * 2 / height
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def _cutout(x: Tensor, ratio: float, generator: torch.Generator | None) -> Tensor:
    """Zero a square of side ``ratio`` x size at a random position in each image."""
    batch, _, height, width = x.shape
    size_h, size_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre = _uniform((batch, 2), generator, x)  # (B, 2) in [0, 1)
    cy = (centre[:, 0] * (height + 1 - size_h % 2)).long().reshape(batch, 1, 1)
    cx = (centre[:, 1] * (width + 1 - size_w % 2)).long().reshape(batch, 1, 1)
    ys = torch.arange(height, device=x.device).reshape(1, height, 1)
    xs = torch.arange(width, device=x.device).reshape(1, 1, width)
    inside = ((ys - cy).abs() < size_h / 2) & ((xs - cx).abs() < size_w / 2)  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)
