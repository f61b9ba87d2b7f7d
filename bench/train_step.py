"""Training throughput (images/s) of Genome vs mapping-network generators, measured side by side.

One step = G step + D step as in `genomekit train` (lazy R1 every 16 steps, so steps are timed over a
whole R1 cycle). Same synthesis network and discriminator for both latents.

    .venv/bin/python bench/train_step.py [--resolutions 32 64] [--batch 32] [--steps 16]
"""

from __future__ import annotations

import argparse
import time

import torch

from genomekit.networks import DiscriminatorConfig, GeneratorConfig
from genomekit.training.config import TrainConfig
from genomekit.training.loop import Distributed, build_state, train_step


def images_per_second(latent: str, resolution: int, batch: int, steps: int, channel_base: int) -> float:
    config = TrainConfig(
        data="unused",
        generator=GeneratorConfig(latent=latent, resolution=resolution, channel_base=channel_base),
        discriminator=DiscriminatorConfig(resolution=resolution, channel_base=channel_base),
        batch_size=batch,
    )
    state = build_state(config, torch.device("cpu"), Distributed())
    reals = torch.randint(0, 256, (batch, 3, resolution, resolution), dtype=torch.uint8)
    for _ in range(2):  # warm-up (includes one R1 step)
        train_step(state, config, reals, Distributed())
    start = time.perf_counter()
    for _ in range(steps):
        train_step(state, config, reals, Distributed())
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--channel-base", type=int, default=2048)
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
        f"channel_base {args.channel_base}, {args.steps} steps per measurement"
    )
    print(f"{'resolution':>10} {'genome img/s':>13} {'mapping img/s':>14} {'genome/mapping':>15}")
    for res in args.resolutions:
        genome = images_per_second("genome", res, args.batch, args.steps, args.channel_base)
        mapping = images_per_second("mapping", res, args.batch, args.steps, args.channel_base)
        print(f"{res:>10} {genome:>13.1f} {mapping:>14.1f} {genome / mapping:>14.2f}x")


if __name__ == "__main__":
    main()
