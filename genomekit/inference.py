"""Batched inference on tensors already in memory: codes to images, images to classifier scores.

The one place where the analysis commands, the snapshot grids and ``ClassifierSet.score`` cut a large
tensor into batches. Both functions run without gradients and return CPU tensors; each batch moves
to the network's device on its own. Images depend only on their code (constant noise), so the
result does not depend on ``batch_size`` beyond floating-point rounding.

The Monte-Carlo collection (``genomekit.stats.collect.score_chunk``) and the probes stream codes,
images and scores batch by batch on the device instead, so they keep their own loops.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


@torch.no_grad()
def render(
    G: nn.Module, codes: Tensor, batch_size: int = 64, on_batch: Callable[[int], object] | None = None
) -> Tensor:
    """Images of codes with constant noise, float32 on the CPU.

    Args:
        G: a ``genomekit.networks.Generator``, on its device.
        codes: (N, G) int64 gene sequences (Genome) or (N, z_dim) z (mapping network), on any device.
        batch_size: codes per forward pass.
        on_batch: called with the number of images after each batch (progress).
    Returns:
        (N, C, H, W) images in about [-1, 1].
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = next(G.parameters()).device
    parts = []
    for start in range(0, len(codes), batch_size):
        parts.append(G(codes[start : start + batch_size].to(device), noise_mode="const").float().cpu())
        if on_batch is not None:
            on_batch(len(parts[-1]))
    if not parts:
        return torch.empty(0, G.img_channels, G.img_resolution, G.img_resolution)
    return torch.cat(parts)


@torch.no_grad()
def score(
    classifiers: nn.Module, images: Tensor, batch_size: int = 128, on_batch: Callable[[int], object] | None = None
) -> tuple[Tensor, Tensor]:
    """Classifier probabilities and penultimate features of many images, from one pass per batch.

    Args:
        classifiers: a ``classifiers.ClassifierSet`` (its mode, eval or train, is left as it is).
        images: (N, 3, H, H) float in [-1, 1], N >= 1, on any device.
        batch_size: images per forward pass.
        on_batch: called with the number of images after each batch (progress).
    Returns:
        probabilities (N, A) and features (N, F), float32 on the CPU.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if len(images) == 0:
        raise ValueError("score needs at least one image")
    device = next(classifiers.parameters()).device
    probabilities, features = [], []
    for start in range(0, len(images), batch_size):
        p, f = classifiers.probabilities_and_features(images[start : start + batch_size].to(device))
        probabilities.append(p.cpu())
        features.append(f.cpu())
        if on_batch is not None:
            on_batch(len(p))
    return torch.cat(probabilities), torch.cat(features)
