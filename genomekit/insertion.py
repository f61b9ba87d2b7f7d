"""Real images written into the codebook: pivotal tuning with codebook perseverance (StyleGenes, sec. 4.2).

After ``genomekit.projection`` has found each image's nearest-variant gene sequence, ``insert`` tunes the
generator's synthesis network and its Genome together (PTI, Roich et al. 2021) so that each sequence
reproduces its image, for pixel MSE plus a perceptual distance. PTI's locality regulariser is replaced
by the paper's codebook perseverance: at every step a fresh batch of uniformly drawn gene sequences
must keep the syntheses of the frozen original generator (the same pixel + perceptual loss), so that
the rest of the genome keeps its images. Tuning a variant moves every sequence that uses it, which is
exactly what the perseverance term holds in place.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genomekit.projection import reconstruction_loss, render_sequences


@dataclass(frozen=True, kw_only=True)
class InsertionConfig:
    """How ``insert`` tunes the generator.

    Two phases (measured on 16 held-out faces, docs/experiments/projection/sweep.csv): a *fit* phase
    (the first ``fit_fraction`` of the steps, constant learning rate) under a light perseverance
    (``fit_perseverance_scale`` x ``perseverance_weight``) brings the sequences close to their images
    quickly; a *consolidation* phase (the rest, the learning rate falling to 0 as a cosine) under the
    full ``perseverance_weight`` pulls the other samples back to their syntheses while the targets
    hold. ``fit_fraction=1`` with ``fit_perseverance_scale=1`` is one constant phase, PTI's schedule.
    """

    steps: int | None = None  # optimiser steps; None: steps_per_image x the number of images
    steps_per_image: int = 350  # PTI tunes one image for 350 steps; several at once need as many each
    learning_rate: float = 1e-3  # Adam's learning rate (PTI: 3e-4; 1e-3 measured better here, README)
    pixel_weight: float = 10.0  # weight of the pixel MSE in the reconstruction term (PTI: 1)
    perceptual_weight: float = 1.0  # weight of the perceptual distance beside the pixel MSE, in both terms
    perseverance_weight: float = 12.0  # weight of codebook perseverance beside the reconstruction (PTI: 1)
    fit_fraction: float = 0.5  # the first phase's share of the steps
    fit_perseverance_scale: float = 1 / 16  # the first phase's perseverance weight, relative
    perseverance_batch: int = 32  # random gene sequences held to their original syntheses, per step
    tune_genome: bool = True  # also tune the Genome's variants (False: the synthesis network only)

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.steps_per_image < 1:
            raise ValueError(f"steps_per_image must be at least 1, got {self.steps_per_image}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        for name in ("pixel_weight", "perceptual_weight", "perseverance_weight", "fit_perseverance_scale"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.fit_fraction <= 1:
            raise ValueError(f"fit_fraction must be in [0, 1], got {self.fit_fraction}")
        if self.perseverance_batch < 0:
            raise ValueError(f"perseverance_batch must be at least 0, got {self.perseverance_batch}")

    def total_steps(self, num_images: int) -> int:
        """The optimiser steps for inserting ``num_images`` images at once."""
        return self.steps if self.steps is not None else self.steps_per_image * num_images

    def schedule(self, t: float) -> tuple[float, float]:
        """(learning rate, perseverance weight) at progress ``t`` = step / steps in [0, 1)."""
        if t < self.fit_fraction:
            return self.learning_rate, self.fit_perseverance_scale * self.perseverance_weight
        phase = (t - self.fit_fraction) / (1 - self.fit_fraction)
        return self.learning_rate * 0.5 * (1 + math.cos(math.pi * phase)), self.perseverance_weight


@dataclass
class Insertion:
    """What ``insert`` made.

    Attributes:
        G: the tuned generator (a copy; the input generator is unchanged), on the input's device.
        before: (N, C, H, W) the sequences' images before tuning, on the CPU.
        after: (N, C, H, W) ... and after.
        losses: (steps, 2) per step: the mean reconstruction loss and the mean perseverance loss.
    """

    G: nn.Module
    before: Tensor
    after: Tensor
    losses: Tensor


def insert(
    G: nn.Module,
    sequences: Tensor,
    targets: Tensor,
    config: InsertionConfig,
    distance: nn.Module | None,
    generator: torch.Generator,
    on_step: Callable[[int, float, float], object] | None = None,
) -> Insertion:
    """Tune a copy of a Genome generator so that ``sequences[i]`` reproduces ``targets[i]``.

    Args:
        G: a Genome ``genomekit.networks.Generator``, on its device.
        sequences: (N, G) gene sequences, usually ``projection.nearest_variants`` of the targets.
        targets: (N, C, R, R) images in [-1, 1] at the generator's resolution.
        distance: a perceptual distance (``genomekit.perceptual``), or None for pixels only.
        generator: draws the perseverance batches (a CPU generator).
        on_step: called with (step, reconstruction loss, perseverance loss) after each step.
    """
    if G.genome_shape is None:
        raise ValueError("insertion needs a Genome generator; a mapping-network model has no codebook")
    device = next(G.parameters()).device
    expected = (G.img_channels, G.img_resolution, G.img_resolution)
    if targets.ndim != 4 or tuple(targets.shape[1:]) != expected:
        raise ValueError(f"targets must have shape (N, {', '.join(map(str, expected))}), got {tuple(targets.shape)}")
    if sequences.shape != (len(targets), G.genome_shape[0]):
        raise ValueError(
            f"sequences must have shape ({len(targets)}, {G.genome_shape[0]}), got {tuple(sequences.shape)}"
        )
    original = G.eval()
    tuned = copy.deepcopy(original).requires_grad_(False)
    parameters = list(tuned.synthesis.parameters()) + ([tuned.latent.genes] if config.tune_genome else [])
    for parameter in parameters:
        parameter.requires_grad_(True)
    optimizer = torch.optim.Adam(parameters, lr=config.learning_rate, betas=(0.9, 0.999))
    targets = targets.to(device=device, dtype=torch.float32)
    sequences = sequences.to(device)
    before = render_sequences(original, sequences)
    with torch.no_grad():
        target_features = distance.features(targets) if distance is not None else None
    losses = []
    steps = config.total_steps(len(targets))
    for step in range(steps):
        learning_rate, weight = config.schedule(step / steps)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
        images = tuned(sequences, noise_mode="const")
        loss = reconstruction_loss(
            images, targets, target_features, distance, config.perceptual_weight, config.pixel_weight
        ).mean()
        keep = torch.zeros((), device=device)
        if config.perseverance_batch > 0 and weight > 0:
            others = original.sample_codes(config.perseverance_batch, generator).to(device)
            with torch.no_grad():
                reference = original(others, noise_mode="const")
                reference_features = distance.features(reference) if distance is not None else None
            drifted = tuned(others, noise_mode="const")
            keep = reconstruction_loss(
                drifted, reference, reference_features, distance, config.perceptual_weight
            ).mean()
        optimizer.zero_grad(set_to_none=True)
        (loss + weight * keep).backward()
        optimizer.step()
        losses.append(torch.stack([loss.detach(), keep.detach()]))
        if on_step is not None:
            on_step(step + 1, float(losses[-1][0]), float(losses[-1][1]))
    tuned.requires_grad_(False).eval()
    after = render_sequences(tuned, sequences)
    return Insertion(G=tuned, before=before, after=after, losses=torch.stack(losses).cpu())
