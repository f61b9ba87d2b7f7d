"""The Genome: a discrete, learnable latent distribution (StyleGenes, eq. 3-5 and Appendix H).

The Genome holds ``G`` genes, each with ``V`` learnable variants of length ``D``. A gene sequence
``k`` (one variant index per gene, ``(G,)``) selects ``genes[i, k[i]]`` for every gene ``i``; their
concatenation is the latent ``w`` of size ``G * D``, broadcast to every synthesis layer in place of
the mapping network's output. Training samples ``k`` uniformly; after training any per-gene
categorical distribution can be used (conditional sampling, eq. 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True, kw_only=True)
class GenomeConfig:
    num_genes: int = 32  # G, positions in the latent code
    num_variants: int = 256  # V, learnable embeddings per gene
    gene_length: int = 8  # D, so the latent has G*D entries

    def __post_init__(self) -> None:
        for name in ("num_genes", "num_variants", "gene_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.num_variants > 65535:
            raise ValueError(f"num_variants must be at most 65535 (stored as uint16), got {self.num_variants}")

    @property
    def w_dim(self) -> int:
        return self.num_genes * self.gene_length


class Genome(nn.Module):
    """Codebook of gene variants with the same call shape as the mapping network.

    Args:
        num_genes: G, positions in the latent code.
        num_variants: V, learnable variants per gene.
        gene_length: D, entries per variant; the latent ``w`` has ``G * D`` entries.
        num_ws: how many copies of ``w`` the synthesis network consumes (one per modulated layer).
    """

    def __init__(self, num_genes: int, num_variants: int, gene_length: int, num_ws: int) -> None:
        super().__init__()
        GenomeConfig(num_genes=num_genes, num_variants=num_variants, gene_length=gene_length)  # validates
        self.num_genes = num_genes
        self.num_variants = num_variants
        self.gene_length = gene_length
        self.num_ws = num_ws
        self.w_dim = num_genes * gene_length
        # Appendix H: variants start as standard normal draws and are learned through the adversarial loss.
        self.genes = nn.Parameter(torch.randn(num_genes, num_variants, gene_length))  # (G, V, D)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(G, V, D)."""
        return (self.num_genes, self.num_variants, self.gene_length)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """Uniform gene sequences.

        The draw happens on the generator's device (CPU when None), so a CPU generator gives the same
        sequences whichever device the genome lives on.

        Returns:
            (B, G) int64 variant indices, on the genome's device.
        """
        device = generator.device if generator is not None else torch.device("cpu")
        seq = torch.randint(self.num_variants, (batch_size, self.num_genes), generator=generator, device=device)
        return seq.to(self.genes.device)

    def sample_categorical(self, logits: Tensor, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """Gene sequences with gene ``i`` drawn from ``softmax(logits[i])``, independently per gene.

        Args:
            logits: (G, V) unnormalised log-probabilities; ``-inf`` excludes a variant.
        Returns:
            (B, G) int64 variant indices, on the genome's device.
        """
        if logits.shape != (self.num_genes, self.num_variants):
            raise ValueError(
                f"logits must have shape (G, V) = {(self.num_genes, self.num_variants)}, got {tuple(logits.shape)}"
            )
        device = generator.device if generator is not None else torch.device("cpu")
        probs = torch.softmax(logits.detach().to(device, torch.float64), dim=1)  # (G, V)
        seq = torch.multinomial(probs, batch_size, replacement=True, generator=generator)  # (G, B)
        return seq.T.contiguous().to(self.genes.device)

    def lookup(self, sequences: Tensor) -> Tensor:
        """Concatenate the selected variants (eq. 3).

        Args:
            sequences: (B, G) variant indices.
        Returns:
            w: (B, G*D).
        """
        if sequences.ndim != 2 or sequences.shape[1] != self.num_genes:
            raise ValueError(f"gene sequences must have shape (B, {self.num_genes}), got {tuple(sequences.shape)}")
        gene_index = torch.arange(self.num_genes, device=self.genes.device)  # (G,)
        variants = self.genes[gene_index, sequences.to(self.genes.device).long()]  # (B, G, D)
        return variants.reshape(sequences.shape[0], self.w_dim)  # (B, G*D)

    def mean_w(self) -> Tensor:
        """The expected ``w`` under uniform sampling, ``(G*D,)``: the centre that truncation pulls towards."""
        return self.genes.mean(dim=1).reshape(self.w_dim)

    def forward(
        self,
        sequences: Tensor,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> Tensor:
        """Gene sequences to per-layer latents, the mapping network's call shape.

        Truncation (psi < 1) interpolates towards the genome's mean latent; the paper notes the usual
        trick does not transfer directly to an unordered codebook and prunes variants instead
        (Appendix C), so this is offered for parity with the baseline, off by default.

        Args:
            sequences: (B, G) variant indices.
        Returns:
            ws: (B, num_ws, G*D).
        """
        w = self.lookup(sequences)  # (B, G*D)
        ws = w.unsqueeze(1).expand(-1, self.num_ws, -1)  # (B, num_ws, G*D), a view: no copy
        if truncation_psi != 1:
            ws = _truncate(ws, self.mean_w(), truncation_psi, truncation_cutoff)
        return ws

    @torch.no_grad()
    def replace_variants(self, gene: int, targets: Tensor, sources: Tensor) -> None:
        """Overwrite variants ``targets`` of ``gene`` with copies of variants ``sources`` (pruning, App. C).

        Args:
            gene: gene index i.
            targets: (X,) variant indices to overwrite.
            sources: (X,) variant indices whose values are copied, element by element.
        """
        targets, sources = targets.long().to(self.genes.device), sources.long().to(self.genes.device)
        if targets.shape != sources.shape:
            raise ValueError(f"targets {tuple(targets.shape)} and sources {tuple(sources.shape)} differ in shape")
        self.genes[gene, targets] = self.genes[gene, sources].clone()

    def extra_repr(self) -> str:
        return f"num_genes={self.num_genes}, num_variants={self.num_variants}, gene_length={self.gene_length}, num_ws={self.num_ws}"


def _truncate(ws: Tensor, center: Tensor, psi: float, cutoff: int | None) -> Tensor:
    """Move ``ws`` (B, L, C) towards ``center`` (C,) by ``psi`` on the first ``cutoff`` layers (all if None)."""
    layers = slice(None) if cutoff is None else slice(None, cutoff)
    ws = ws.clone()
    ws[:, layers] = center.lerp(ws[:, layers], psi)
    return ws
