"""Generator forward time per image: network version 2 (NVlabs' StyleGAN2) vs version 1 (genomekit 0.1),
side by side in one run, with the multiply-accumulates each spends.

Version 1 up-samples the features first and runs the 3x3 modulated convolution at the doubled size;
version 2 runs it as a stride-2 transposed convolution on the small input (NVlabs), about half the work
in every up-sampling layer.

    .venv/bin/python bench/g_forward.py [--batch N] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from latent_sampling import best_time  # bench/ is on sys.path when a bench script runs
from torch.utils.flop_counter import FlopCounterMode

from genomekit.networks import Generator, GeneratorConfig

# (label, resolution, channel_base, channel_max, genes (x 8 = w_dim), batch): the CLI default sizes at 32
# and 64 px, and StyleGAN2 config F at 256 px (FFHQ-256: channel_base 32768, channel_max 512, w 512).
CONFIGS = [
    ("32 px, CLI default (base 2048, max 128)", 32, 2048, 128, 32, 32),
    ("64 px, CLI default (base 2048, max 128)", 64, 2048, 128, 32, 32),
    ("256 px, config F (base 32768, max 512)", 256, 32768, 512, 64, 2),
]


def gmac_per_image(G: Generator, codes: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        G(codes, noise_mode="const")
    return counter.get_total_flops() / 2 / len(codes) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=None, help="images per forward (default: per config)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    print(f"{'config':<42} {'batch':>5} {'v1 ms/img':>10} {'v2 ms/img':>10} {'v1/v2':>6} {'v1 GMAC':>8} {'v2 GMAC':>8}")
    for label, res, base, cmax, genes, default_batch in CONFIGS:
        batch = args.batch or default_batch
        row = {}
        for version in (1, 2):
            config = GeneratorConfig(
                num_genes=genes, num_variants=64, resolution=res, channel_base=base, channel_max=cmax
            )
            config = dataclasses.replace(config, network_version=version)
            torch.manual_seed(0)
            G = Generator(config).eval().requires_grad_(False).to(device, memory_format=torch.channels_last)
            codes = G.sample_codes(batch, torch.Generator().manual_seed(0)).to(device)
            with torch.no_grad():
                seconds = best_time(lambda G=G, codes=codes: G(codes, noise_mode="const"), args.repeats, device)
            row[version] = (seconds / batch * 1000, gmac_per_image(G, codes))
        (t1, m1), (t2, m2) = row[1], row[2]
        print(f"{label:<42} {batch:>5} {t1:>10.1f} {t2:>10.1f} {t1 / t2:>5.2f}x {m1:>8.2f} {m2:>8.2f}")


if __name__ == "__main__":
    main()
