"""A Genome from a trained mapping network: product quantisation of W (``genomekit genome-from-mapping``).

A trained StyleGAN2 mapping network defines a distribution of w. Sampling many w, optionally rotating
them into decorrelated (PCA) or independent (ICA) coordinates, splitting the result into G chunks of
length D and clustering each chunk into V centroids gives a Genome whose variants follow that
distribution. The rotation and the mean are folded into every synthesis affine layer
(``styles = A (M u + mu) + b = (A M) u + (A mu + b)``), so the result is an ordinary Genome + StyleGAN2
generator that every genomekit command loads.

Steps (``genome_from_mapping``):
  1. sample ``samples`` w from the mapping network (z ~ N(0, I) from an explicit generator);
  2. fit the rotation: ``u = unmixing (w - mean)``, ``w = mixing u + mean``; components ordered by the
     variance they carry and dealt round-robin to the genes (gene g takes components g, g+G, g+2G...),
     so every gene gets strong and weak directions;
  3. k-means per gene on the (G, N, D) chunks (``genomekit.quantize.kmeans``, optionally with equal-size
     clusters so that uniform variant sampling matches the mass of W);
  4. a Genome generator with the source's synthesis network, the rotation folded into its affines, and
     the centroids as variants.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import Tensor

from genomekit.networks import Generator
from genomekit.networks.layers import EqualizedLinear
from genomekit.quantize import cluster_masses, kmeans, mass_imbalance

logger = logging.getLogger(__name__)

ROTATIONS = ("none", "pca", "ica")


@dataclass(frozen=True, kw_only=True)
class QuantizeConfig:
    num_genes: int = 32  # G; the gene length is w_dim / G
    num_variants: int = 256  # V, centroids per gene
    rotation: str = "pca"  # "none" (plain chunks of w), "pca" or "ica" (FastICA, independent components)
    samples: int = 100_000  # w samples drawn from the mapping network
    balanced: bool = False  # equal-size clusters: every variant carries the same mass of W
    iterations: int = 50  # Lloyd iterations of k-means
    seed: int = 0  # fixes the w samples, the ICA start and the k-means initialisation
    batch: int = 4096  # mapping-network forward batch; does not change the result

    def __post_init__(self) -> None:
        if self.rotation not in ROTATIONS:
            raise ValueError(f"rotation must be one of {ROTATIONS}, got {self.rotation!r}")
        for name in ("num_genes", "num_variants", "samples", "iterations", "batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.num_variants > self.samples:
            raise ValueError(f"num_variants ({self.num_variants}) cannot exceed samples ({self.samples})")


@dataclass(frozen=True)
class Rotation:
    """``u = unmixing @ (w - mean)`` and ``w = mixing @ u + mean``; u's entry g*D + d belongs to gene g."""

    mean: Tensor  # (w_dim,)
    mixing: Tensor  # (w_dim, w_dim)
    unmixing: Tensor  # (w_dim, w_dim)


@dataclass
class QuantizeReport:
    """Measured quality of the quantisation, per gene and overall."""

    relative_error: list[float]  # per gene: E|u_g - c(u_g)|^2 / E|u_g - mean u_g|^2 (unexplained variance)
    w_relative_error: float  # E|w - w_hat|^2 / E|w - mean w|^2 over all of w
    variance_share: list[float]  # per gene: share of the total variance of u
    masses: Tensor  # (G, V) fraction of samples per centroid
    imbalance: dict[str, list[float]]  # per gene: max/min mass ratio, perplexity / V, empty fraction

    def to_dict(self) -> dict:
        out = asdict(self)
        out["masses"] = None  # large; kept in the object
        return {k: v for k, v in out.items() if v is not None}


@torch.no_grad()
def sample_w(G: Generator, num: int, seed: int, batch: int) -> Tensor:
    """``num`` w (N, w_dim) float64 on the CPU from the mapping network, z drawn from a CPU generator."""
    generator = torch.Generator().manual_seed(seed)
    device = next(G.parameters()).device
    chunks = []
    for start in range(0, num, batch):
        z = torch.randn(min(batch, num - start), G.latent.z_dim, generator=generator).to(device)
        chunks.append(G.latent(z)[:, 0].double().cpu())  # (b, w_dim)
    return torch.cat(chunks)


def _round_robin(order: np.ndarray, num_genes: int) -> np.ndarray:
    """Component indices for u's positions: gene g, position d takes the (g + d G)-th strongest component."""
    gene_length = len(order) // num_genes
    return np.array([order[g + d * num_genes] for g in range(num_genes) for d in range(gene_length)])


def fit_rotation(w: Tensor, rotation: str, num_genes: int, seed: int) -> Rotation:
    """The rotation (or unmixing) of ``w`` (N, w_dim) float64 described in the module docstring."""
    w_dim = w.shape[1]
    mean = w.mean(dim=0)
    if rotation == "none":
        eye = torch.eye(w_dim, dtype=torch.float64)
        return Rotation(mean, eye, eye.clone())
    centred = (w - mean).numpy()
    if rotation == "pca":
        covariance = centred.T @ centred / len(centred)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending
        order = _round_robin(np.argsort(eigenvalues)[::-1], num_genes)
        mixing = eigenvectors[:, order]  # orthonormal columns
        unmixing = mixing.T
    else:
        from sklearn.decomposition import FastICA

        ica = FastICA(n_components=w_dim, whiten="unit-variance", random_state=seed, max_iter=400, tol=1e-4)
        sources = ica.fit_transform(centred)  # (N, w_dim), unit variance
        mix = ica.mixing_  # (w_dim, w_dim): centred w = mix @ s
        strength = np.linalg.norm(mix, axis=0) * sources.std(axis=0)
        order = _round_robin(np.argsort(strength)[::-1], num_genes)
        mixing = mix[:, order]
        unmixing = np.linalg.inv(mixing)
    return Rotation(
        mean, torch.from_numpy(np.ascontiguousarray(mixing)), torch.from_numpy(np.ascontiguousarray(unmixing))
    )


@torch.no_grad()
def fold_rotation(G: Generator, rotation: Rotation) -> None:
    """Make every synthesis affine layer take u instead of w: ``A' = A M``, ``b' = b + A mu`` (float64)."""
    for module in G.synthesis.modules():
        if isinstance(module, EqualizedLinear):
            weight = module.weight.double() * module.weight_gain  # (out, w_dim)
            bias = module.bias.double() * module.bias_gain
            new_weight = weight @ rotation.mixing
            new_bias = bias + weight @ rotation.mean
            module.weight.copy_((new_weight / module.weight_gain).to(module.weight.dtype))
            module.bias.copy_((new_bias / module.bias_gain).to(module.bias.dtype))


def genome_from_mapping(
    G_mapping: Generator, config: QuantizeConfig, progress: Callable[[str], None] = logger.info
) -> tuple[Generator, QuantizeReport]:
    """A Genome generator quantised from ``G_mapping``'s distribution of w (module docstring).

    Args:
        G_mapping: a generator with a mapping-network latent (eval mode; any device).
        config: genes, variants, rotation, samples, balance, seed.
        progress: called with a line per step.
    Returns:
        the Genome generator (CPU, eval mode) and the measured quantisation report.
    """
    if G_mapping.latent_kind != "mapping":
        raise ValueError("the source generator has a Genome latent; a mapping-network model is needed")
    w_dim = G_mapping.w_dim
    if w_dim % config.num_genes:
        raise ValueError(f"w_dim {w_dim} is not divisible by num_genes {config.num_genes}")
    gene_length = w_dim // config.num_genes
    # 1. Samples of w.
    progress(f"sampling {config.samples:,} w from the mapping network")
    w = sample_w(G_mapping, config.samples, config.seed, config.batch)  # (N, w_dim) float64
    # 2. Rotation.
    progress(f"fitting the rotation ({config.rotation})")
    rotation = fit_rotation(w, config.rotation, config.num_genes, config.seed)
    u = (w - rotation.mean) @ rotation.unmixing.T  # (N, w_dim)
    chunks = u.float().reshape(len(u), config.num_genes, gene_length).transpose(0, 1).contiguous()  # (G, N, D)
    # 3. k-means per gene.
    progress(
        f"k-means: {config.num_genes} genes x {config.num_variants} variants x {gene_length}"
        f"{' (equal-size clusters)' if config.balanced else ''}"
    )
    generator = torch.Generator().manual_seed(config.seed)
    result = kmeans(
        chunks, config.num_variants, generator=generator, iterations=config.iterations, balanced=config.balanced
    )
    # 4. The Genome generator: the source's synthesis with the rotation folded in.
    genome_config = replace(
        G_mapping.config,
        latent="genome",
        num_genes=config.num_genes,
        num_variants=config.num_variants,
        gene_length=gene_length,
        z_dim=None,
    )
    G = Generator(genome_config)
    G.synthesis.load_state_dict(G_mapping.synthesis.state_dict())
    G = G.cpu()
    fold_rotation(G, rotation)
    with torch.no_grad():
        G.latent.genes.copy_(result.centroids.cpu())
    report = _report(chunks, result, rotation, w)
    return G.eval().requires_grad_(False), report


def _report(chunks: Tensor, result, rotation: Rotation, w: Tensor) -> QuantizeReport:
    variance = chunks.double().var(dim=1, unbiased=False).sum(dim=1)  # (G,)
    relative = (result.inertia.double().cpu() / variance).tolist()
    index = result.assignment.cpu()  # (G, N)
    quantised = torch.gather(result.centroids.cpu(), 1, index.unsqueeze(2).expand(-1, -1, chunks.shape[2]))
    u_hat = quantised.transpose(0, 1).reshape(chunks.shape[1], -1).double()  # (N, w_dim)
    w_hat = u_hat @ rotation.mixing.T + rotation.mean
    w_error = ((w - w_hat).square().sum(1).mean() / (w - w.mean(0)).square().sum(1).mean()).item()
    masses = cluster_masses(index, result.centroids.shape[1])
    imbalance = {k: v.tolist() for k, v in mass_imbalance(masses).items()}
    return QuantizeReport(
        relative_error=relative,
        w_relative_error=w_error,
        variance_share=(variance / variance.sum()).tolist(),
        masses=masses,
        imbalance=imbalance,
    )


def summary_lines(report: QuantizeReport) -> list[str]:
    """A few lines for the terminal: errors and mass imbalance."""
    rel = np.array(report.relative_error)
    lines = [
        f"relative quantisation error per gene: median {np.median(rel):.3f} (min {rel.min():.3f}, max {rel.max():.3f}); "
        f"of w: {report.w_relative_error:.3f}",
    ]
    for key, values in report.imbalance.items():
        arr = np.array(values, dtype=float)
        finite = arr[np.isfinite(arr)]
        if key.startswith("perplexity"):  # 1 = uniform mass; lower is worse
            worst = f"{arr.min():.3g}"
        else:
            worst = "inf" if len(finite) < len(arr) else f"{finite.max():.3g}"
        lines.append(f"cluster mass {key}: median {np.median(arr):.3g}, worst gene {worst}")
    return lines


def isclose_rotation(rotation: Rotation) -> float:
    """max |mixing @ unmixing - I|: how exactly the rotation inverts (a check for tests and the CLI)."""
    eye = torch.eye(rotation.mixing.shape[0], dtype=torch.float64)
    return (rotation.mixing @ rotation.unmixing - eye).abs().max().item()
