"""`genomekit interpolate`: between two gene sequences, linearly in w and gene by gene."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genomekit.errors import UserError
from genomekit.images import save_gif, save_grid
from genomekit.inference import render
from genomekit.sampling import gene_substitution_path, linear_ws

if TYPE_CHECKING:
    from genomekit.training.checkpoint import Checkpoint


def parse_sequence(text: str, genome, what: str) -> Tensor:
    """A gene sequence (G,) from ``seed:N`` (a uniform draw) or comma-separated variant indices."""
    text = text.strip()
    if text.startswith("seed:"):
        try:
            seed = int(text[5:])
        except ValueError:
            raise UserError(f"{what}: 'seed:N' needs an integer N, got {text!r}") from None
        return genome.sample(1, torch.Generator().manual_seed(seed))[0].cpu()
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise UserError(f"{what}: give 'seed:N' or {genome.num_genes} comma-separated variant indices") from None
    if len(values) != genome.num_genes:
        raise UserError(
            f"{what}: a gene sequence has {genome.num_genes} variant indices in [0, {genome.num_variants}), "
            f"got {len(values)} values"
        )
    outside = [(gene, v) for gene, v in enumerate(values) if not 0 <= v < genome.num_variants]
    if outside:
        shown = ", ".join(f"gene {gene}: {v}" for gene, v in outside[:4])
        raise UserError(
            f"{what}: variant indices must be in [0, {genome.num_variants}); {len(outside)} are not ({shown}"
            f"{', ...' if len(outside) > 4 else ''})"
        )
    return torch.tensor(values, dtype=torch.int64)


@torch.no_grad()
def interpolate(
    model: Checkpoint, start: str, end: str, steps: int, out: str | Path, device: str = "cpu"
) -> dict[str, Path]:
    """Linear-in-w and gene-by-gene interpolation strips (PNG) and animations (GIF).

    Args:
        model: a Genome checkpoint.
        start, end: ``seed:N`` or comma-separated variant indices (``parse_sequence``).
        steps: frames from start to end, at least 2.
    """
    if steps < 2:
        raise UserError(f"--steps must be at least 2, got {steps}")
    if model.genome_shape is None:
        raise UserError(f"{model.name} is a mapping-network model; interpolation between gene sequences needs a Genome")
    G = model.generator(device)
    a = parse_sequence(start, G.latent, "--from")
    b = parse_sequence(end, G.latent, "--to")
    out = Path(out)
    ws = linear_ws(G.latent, a.to(device), b.to(device), steps)  # (steps, num_ws, w_dim)
    linear = G.synthesis(ws, noise_mode="const").float().cpu()
    genes = render(G, gene_substitution_path(a, b, steps))
    paths = {
        "linear_png": out / "interpolate_linear.png",
        "linear_gif": out / "interpolate_linear.gif",
        "genes_png": out / "interpolate_genes.png",
        "genes_gif": out / "interpolate_genes.gif",
    }
    save_grid(linear, paths["linear_png"], columns=steps)
    save_gif(linear, paths["linear_gif"], scale=max(1, 128 // G.img_resolution))
    save_grid(genes, paths["genes_png"], columns=steps)
    save_gif(genes, paths["genes_gif"], scale=max(1, 128 // G.img_resolution))
    return paths
