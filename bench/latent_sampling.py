"""Time per latent: Genome sampling + lookup vs mapping-network sampling + forward, side by side.

The paper's Table 1 reports 0.170 ms (Genome) vs 0.483 ms (mapping) per latent on GPU; on CPU with a
batch of 4096 the lookup is a gather while the mapping network is eight 512x512 matrix products, so the
ratio is much larger.

    .venv/bin/python bench/latent_sampling.py [--batch 4096] [--repeats 20] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch

from genomekit.genome import Genome
from genomekit.networks import MappingNetwork


def best_time(fn, repeats: int, device: torch.device) -> float:
    """Fastest of ``repeats`` runs (seconds), after two warm-up runs."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def us_per_latent(
    source: torch.nn.Module, mode: str, gen: torch.Generator, batch: int, repeats: int, device: torch.device
) -> float:
    """Microseconds per latent to sample codes and turn them into ws (and back-propagate, for training)."""

    def run() -> None:
        ws = source(source.sample(batch, gen))
        if mode != "forward":
            ws.sum().backward()

    with torch.no_grad() if mode == "forward" else torch.enable_grad():
        return best_time(run, repeats, device) / batch * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, batch {args.batch}")
    print(f"{'config':<34} {'genome us/latent':>17} {'mapping us/latent':>18} {'ratio':>7}")
    for genes, variants, length in [(64, 256, 8), (32, 256, 8)]:
        w_dim, num_ws = genes * length, 10
        torch.manual_seed(0)
        genome = Genome(genes, variants, length, num_ws).to(device)
        mapping = MappingNetwork(w_dim, w_dim, num_ws).to(device)
        gen = torch.Generator(device=device).manual_seed(0)
        for mode in ("forward", "forward+backward"):
            t_genome = us_per_latent(genome, mode, gen, args.batch, args.repeats, device)
            t_mapping = us_per_latent(mapping, mode, gen, args.batch, args.repeats, device)
            label = f"G={genes} V={variants} D={length} ({mode})"
            print(f"{label:<34} {t_genome:>17.3f} {t_mapping:>18.3f} {t_mapping / t_genome:>6.1f}x")


if __name__ == "__main__":
    main()
