"""Real images into the genome's continuous space (StyleGenes, Appendix F and Fig. 11).

``project`` optimises one latent per synthesis layer (W+) or one shared latent (W) so that the generator
reproduces each target image, for pixel MSE plus a perceptual distance (``genomekit.perceptual``).
It starts from the mean w of randomly drawn gene sequences, as the paper does (not from the mapping
network's running average), and follows NVlabs' projector for the schedule: the learning rate ramps up
over the first 5% of the steps and down (cosine) over the last 25%, and Gaussian noise of 5% of the
latents' spread, fading out quadratically over the first 75%, is added to the latent at each step.

``nearest_variants`` then reads a gene sequence off a projection: for each gene, the variant closest to
that gene's slice of the latent under L1, L2 or cosine distance, summed over the synthesis layers (for
W+; the paper's three columns of Fig. 11). Such a sequence is only a first guess; ``genomekit insert``
(``genomekit.insertion``) tunes the generator so that it reproduces the image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genomekit.genome import Genome
from genomekit.metrics.reconstruction import psnr, ssim

SPACES = ("w", "w+")
METRICS = ("l1", "l2", "cosine")


@dataclass(frozen=True, kw_only=True)
class ProjectionConfig:
    """How ``project`` optimises the latents."""

    steps: int = 1000  # optimiser steps
    space: str = "w+"  # "w+": one latent per synthesis layer (num_ws of them); "w": one for all layers
    learning_rate: float = 0.1  # Adam's peak learning rate (NVlabs' projector: 0.1)
    perceptual_weight: float = 1.0  # weight of the perceptual distance beside the pixel MSE
    mean_samples: int = 10_000  # random gene sequences (or z) averaged for the starting latent
    initial_noise: float = 0.05  # noise on the latent at step 0, as a fraction of the latents' spread
    noise_ramp: float = 0.75  # ... fading out (quadratically) over this fraction of the steps
    lr_rampup: float = 0.05  # fraction of the steps over which the learning rate ramps up
    lr_rampdown: float = 0.25  # ... and the fraction over which it ramps down at the end

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.space not in SPACES:
            raise ValueError(f"space must be one of {', '.join(SPACES)}, got {self.space!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not self.perceptual_weight >= 0:
            raise ValueError(f"perceptual_weight must be >= 0, got {self.perceptual_weight}")
        if self.mean_samples < 2:
            raise ValueError(f"mean_samples must be at least 2, got {self.mean_samples}")


@dataclass
class Projection:
    """What ``project`` found, on the CPU.

    Attributes:
        ws: (N, num_ws, w_dim) latents (for "w" every layer holds the same one).
        images: (N, C, H, W) their syntheses, in [-1, 1].
        losses: (steps,) the summed loss of all images at each step.
    """

    ws: Tensor
    images: Tensor
    losses: Tensor


def start_latent(G: nn.Module, samples: int, generator: torch.Generator) -> tuple[Tensor, float]:
    """The mean latent (w_dim,) of ``samples`` codes drawn from the training prior, and their spread.

    The spread is the root-mean-square distance of the drawn latents to the mean (NVlabs' ``w_std``).
    """
    device = next(G.parameters()).device
    with torch.no_grad():
        codes = G.sample_codes(samples, generator).to(device)  # (S, G) sequences or (S, z_dim) z
        w = G.mapping(codes)[:, 0].float()  # (S, w_dim): every layer holds the same latent here
        mean = w.mean(dim=0)
        spread = (w - mean).square().sum(dim=1).mean().sqrt().item()
    return mean, spread


def _learning_rate(config: ProjectionConfig, t: float) -> float:
    ramp = min(1.0, (1.0 - t) / config.lr_rampdown) if config.lr_rampdown > 0 else 1.0
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp *= min(1.0, t / config.lr_rampup) if config.lr_rampup > 0 else 1.0
    return config.learning_rate * ramp


def reconstruction_loss(
    images: Tensor,
    targets: Tensor,
    target_features,
    distance: nn.Module | None,
    perceptual_weight: float,
    pixel_weight: float = 1.0,
) -> Tensor:
    """Per-image loss (N,): ``pixel_weight`` x the pixel MSE on [-1, 1] plus ``perceptual_weight`` x the
    perceptual distance."""
    loss = pixel_weight * (images - targets).square().flatten(1).mean(dim=1)
    if distance is not None and perceptual_weight > 0:
        loss = loss + perceptual_weight * distance.distance(images, target_features)
    return loss


def project(
    G: nn.Module,
    targets: Tensor,
    config: ProjectionConfig,
    distance: nn.Module | None,
    generator: torch.Generator,
    on_step: Callable[[int, float], object] | None = None,
) -> Projection:
    """Latents whose syntheses reproduce ``targets``.

    The images are optimised together but independently: the loss is a sum of per-image losses and
    Adam's updates are per coordinate, so image i's latent sees only its own gradient.

    Args:
        G: a ``genomekit.networks.Generator`` (Genome or mapping), on its device; left unchanged.
        targets: (N, C, R, R) images in [-1, 1] at the generator's resolution.
        distance: a perceptual distance (``genomekit.perceptual``), or None for pixels only.
        generator: draws the starting codes and the latent noise (a CPU generator).
        on_step: called with (step, loss) after each step (progress).
    """
    device = next(G.parameters()).device
    expected = (G.img_channels, G.img_resolution, G.img_resolution)
    if targets.ndim != 4 or tuple(targets.shape[1:]) != expected:
        raise ValueError(f"targets must have shape (N, {', '.join(map(str, expected))}), got {tuple(targets.shape)}")
    G.eval()
    targets = targets.to(device=device, dtype=torch.float32)
    mean, spread = start_latent(G, config.mean_samples, generator)
    layers = G.num_ws if config.space == "w+" else 1
    latent = mean.view(1, 1, -1).repeat(len(targets), layers, 1).requires_grad_(True)  # (N, L, w_dim)
    optimizer = torch.optim.Adam([latent], betas=(0.9, 0.999), lr=config.learning_rate)
    with torch.no_grad():
        target_features = distance.features(targets) if distance is not None else None
    losses = []
    for step in range(config.steps):
        t = step / config.steps
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, t)
        scale = spread * config.initial_noise * max(0.0, 1.0 - t / config.noise_ramp) ** 2
        noise = torch.randn(latent.shape, generator=generator).to(device) * scale
        ws = (latent + noise).expand(-1, G.num_ws, -1)  # (N, num_ws, w_dim)
        images = G.synthesis(ws, noise_mode="const")
        loss = reconstruction_loss(images, targets, target_features, distance, config.perceptual_weight).sum()
        (latent.grad,) = torch.autograd.grad(loss, [latent])  # the latent's only: G's weights stay as they are
        optimizer.step()
        losses.append(loss.detach())
        if on_step is not None:
            on_step(step + 1, float(losses[-1]))
    with torch.no_grad():
        ws = latent.detach().expand(-1, G.num_ws, -1).contiguous()
        images = G.synthesis(ws, noise_mode="const").float()
    return Projection(ws=ws.cpu(), images=images.cpu(), losses=torch.stack(losses).cpu())


def nearest_variants(genome: Genome, ws: Tensor, metric: str) -> Tensor:
    """The gene sequence (N, G) nearest to each projection, variant by variant.

    For gene i the chosen variant j minimises ``sum_l d(w_l[i], genes[i, j])`` over the synthesis layers
    l, with d the L1 distance, the squared L2 distance (so, for W+, the variant nearest to the layers'
    mean) or one minus the cosine similarity.

    Args:
        genome: the model's Genome (G, V, D).
        ws: (N, L, G*D) latents, L >= 1 (a projection's ``ws``, or (N, 1, G*D) for one w).
        metric: "l1", "l2" or "cosine".
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    num_genes, _, length = genome.shape
    if ws.ndim != 3 or ws.shape[2] != num_genes * length:
        raise ValueError(f"ws must have shape (N, L, {num_genes * length}), got {tuple(ws.shape)}")
    genes = genome.genes.detach().float()  # (G, V, D)
    rows = []
    for w in ws.to(genes.device).float():  # one image at a time: (L, G*D), bounded memory
        slices = w.view(-1, num_genes, 1, length)  # (L, G, 1, D)
        if metric == "l1":
            cost = (slices - genes).abs().sum(dim=-1)  # (L, G, V)
        elif metric == "l2":
            cost = (slices - genes).square().sum(dim=-1)
        else:
            cost = 1 - torch.nn.functional.cosine_similarity(slices, genes, dim=-1, eps=1e-8)
        rows.append(cost.sum(dim=0).argmin(dim=1))  # (G,)
    return torch.stack(rows).cpu()


@torch.no_grad()
def search_sequences(
    G: nn.Module,
    targets: Tensor,
    sequences: Tensor,
    distance: nn.Module | None,
    perceptual_weight: float = 1.0,
    sweeps: int = 2,
    batch_size: int = 256,
    on_gene: Callable[[int], object] | None = None,
) -> Tensor:
    """Better gene sequences for ``targets`` by greedy coordinate descent in image space.

    Starting from ``sequences`` (e.g. the nearest variants), each sweep visits the genes in order and
    sets each to the variant whose image has the lowest reconstruction loss (pixel MSE plus
    ``perceptual_weight`` x the distance) given the other genes; the current variant is a candidate,
    so the loss never rises. A sweep renders G x V images per target. This is genomekit's addition
    to the paper's nearest-variant step: it searches the codebook by what the sequences draw, not by
    latent distance (on the shipped model it lifts the start of insertion by about 3-4 dB).

    Args:
        G: a Genome generator, on its device.
        targets: (N, C, R, R) images in [-1, 1].
        sequences: (N, G) starting sequences.
        on_gene: called with the number of targets after each gene (progress: sweeps x G x N in all).
    Returns:
        (N, G) int64 sequences, on the CPU.
    """
    num_genes, num_variants, _ = G.genome_shape
    device = next(G.parameters()).device
    targets = targets.to(device=device, dtype=torch.float32)
    sequences = sequences.clone().to(device)
    for _ in range(sweeps):
        for gene in range(num_genes):
            candidates = sequences.repeat_interleave(num_variants, dim=0)  # (N*V, G), image-major
            candidates[:, gene] = torch.arange(num_variants, device=device).repeat(len(sequences))
            reference = targets.repeat_interleave(num_variants, dim=0)  # (N*V, C, R, R)
            losses = []
            for start in range(0, len(candidates), batch_size):
                images = G(candidates[start : start + batch_size], noise_mode="const")
                goal = reference[start : start + batch_size]
                goal_features = distance.features(goal) if distance is not None else None
                losses.append(reconstruction_loss(images, goal, goal_features, distance, perceptual_weight))
            sequences[:, gene] = torch.cat(losses).view(len(sequences), num_variants).argmin(dim=1)
            if on_gene is not None:
                on_gene(len(sequences))
    return sequences.cpu()


@torch.no_grad()
def render_sequences(G: nn.Module, sequences: Tensor) -> Tensor:
    """Images (N, C, H, W) of gene sequences (N, G), constant noise, on the CPU."""
    device = next(G.parameters()).device
    return G(sequences.to(device), noise_mode="const").float().cpu()


def fidelity(images: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """PSNR (dB) and SSIM per image, (N,) each, of images against their targets."""
    return {"psnr": psnr(images, targets), "ssim": ssim(images, targets)}
