"""Scoring throughput of a classifier set on this machine: images/s at batch 256.

Compares the bare network forward (images already at the set's resolution, channels-last, inference
mode) with the full ``__call__`` (shape checks, resize with antialiasing, channels-last conversion)
for inputs of several sizes, and channels-last against the default memory format. Prints a Markdown
table with ratios measured in this one run.

    .venv/bin/python bench/classifier_scoring.py [--classifier default] [--batch 256] [--repeats 5] [--device cpu]

With ``--celebahq`` it measures instead StyleGAN's CelebA-HQ classifier architecture (random weights)
run network after network (``CelebAHQClassifierSet``) against all networks in one grouped pass
(``BatchedCelebAHQ``), for a tiny set (the tests' widths, 40 networks at 32 px, batches of 4 and 64) and
networks of mid width at 64 px and of full width at 256 px (``--full-networks`` of them,
``--full-images`` per batch: keep both small on a CPU; 40 and 32 on a GPU):

    .venv/bin/python bench/classifier_scoring.py --celebahq [--full-networks 4] [--full-images 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import sys
import time
from collections.abc import Callable

import torch

# This file is named like the package it measures: drop its own folder from the path so that
# `import classifiers` finds the package, not this script.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from classifiers import (  # noqa: E402
    BatchedCelebAHQ,
    CelebAHQClassifierSet,
    CelebAHQConfig,
    CelebAHQNetwork,
    MultiHeadClassifierSet,
    MultiHeadConfig,
    load_classifier_set,
)


def best_time(fn, repeats: int) -> tuple[float, float]:
    """Fastest of ``repeats`` runs after one warm-up run: (wall seconds, CPU seconds of this process).

    On a machine shared with other jobs the wall time depends on their load; the CPU time much less.
    """
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def celebahq_macs(config: CelebAHQConfig) -> int:
    """Multiply-accumulates of one CelebA-HQ network per image, as run (fused 4x4 stride-2 down-sampling)."""
    size, top = config.resolution, config.resolution_log2
    macs = size * size * 3 * config.nf(top - 1)  # fromrgb
    for res in range(top, 2, -1):
        channels, out = config.nf(res - 1), config.nf(res - 2)
        macs += size * size * channels * channels * 9  # conv0
        size //= 2
        macs += size * size * channels * out * 16  # conv1_down
    extra = config.mbstd_num_features if config.mbstd_group_size > 1 else 0
    return macs + 16 * (config.nf(1) + extra) * config.nf(1) * 9 + config.nf(1) * 16 * config.nf(0) + config.nf(0)


def alternating_best_times(fns: dict[str, Callable[[], None]], budget_s: float) -> dict[str, tuple[float, float]]:
    """Fastest (wall, CPU) seconds of each function, run in turn after one warm-up each.

    Rounds alternate between the functions until ``budget_s`` has passed (at least 2, at most 20 rounds),
    so that a change in the load of a shared machine hits all of them alike.
    """
    for fn in fns.values():
        fn()
    best = {name: (math.inf, math.inf) for name in fns}
    start, rounds = time.perf_counter(), 0
    while rounds < 2 or (rounds < 20 and time.perf_counter() - start < budget_s):
        for name, fn in fns.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
        rounds += 1
    return best


def celebahq_comparison(args: argparse.Namespace, device: torch.device) -> None:
    """Sequential vs batched CelebA-HQ sets: one Markdown row per architecture, ratios from this run."""
    cases = [
        ("tiny (tests' widths)", CelebAHQConfig(resolution=32, fmap_base=128, fmap_max=32), 40, 4),
        ("tiny (tests' widths)", CelebAHQConfig(resolution=32, fmap_base=128, fmap_max=32), 40, 64),
        ("mid width", CelebAHQConfig(resolution=64, fmap_base=2048, fmap_max=128), 40, 4),
        ("full width (StyleGAN's)", CelebAHQConfig(), args.full_networks, args.full_images),
    ]
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, device {device}; fastest pass of rounds alternating between the two "
        f"forms for {args.budget:g} s after a warm-up, inference mode, images already at the networks' resolution\n"
    )
    print(
        "| set | px | networks | batch | GMAC/image | sequential img/s | batched img/s "
        "| batched speed-up (wall) | (CPU time) | max abs logit difference |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, config, count, batch in cases:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # benchmark-only: random "official" weights (speed does not depend on them)
            networks = [CelebAHQNetwork(config) for _ in range(count)]
        sequential = CelebAHQClassifierSet([f"a{i}" for i in range(count)], networks).to(device).eval()
        batched = BatchedCelebAHQ.from_set(sequential)
        generator = torch.Generator(device=device).manual_seed(0)
        x = torch.rand(batch, 3, config.resolution, config.resolution, generator=generator, device=device) * 2 - 1
        x = x.contiguous(memory_format=torch.channels_last)

        def forward(model: CelebAHQClassifierSet, x: torch.Tensor = x) -> None:
            model._logits_from_features(model._features(x))
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        with torch.inference_mode():
            times = alternating_best_times(
                {"sequential": functools.partial(forward, sequential), "batched": functools.partial(forward, batched)},
                args.budget,
            )
            difference = (batched.logits(x) - sequential.logits(x)).abs().max().item()
        (seq_wall, seq_cpu), (bat_wall, bat_cpu) = times["sequential"], times["batched"]
        print(
            f"| {name} | {config.resolution} | {count} | {batch} | {count * celebahq_macs(config) / 1e9:.2f} | "
            f"{batch / seq_wall:,.1f} | {batch / bat_wall:,.1f} | {seq_wall / bat_wall:.2f}x | {seq_cpu / bat_cpu:.2f}x "
            f"| {difference:.1e} |",
            flush=True,
        )
        del sequential, batched, networks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", default="default", help="classifier set directory, or 'default'")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--celebahq", action="store_true", help="CelebA-HQ sets: sequential vs batched")
    parser.add_argument("--full-networks", type=int, default=4, help="--celebahq: full-width networks (40 official)")
    parser.add_argument("--full-images", type=int, default=2, help="--celebahq: images per full-width batch")
    parser.add_argument("--budget", type=float, default=6.0, help="--celebahq: seconds of timed rounds per set")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.celebahq:
        celebahq_comparison(args, device)
        return

    try:
        model = load_classifier_set(args.classifier, device=device)
        source = args.classifier
    except Exception:  # no shipped set yet: same architecture, random weights (speed does not depend on them)
        model = MultiHeadClassifierSet([f"a{i}" for i in range(40)], MultiHeadConfig()).to(device).eval()
        source = "random weights, default MultiHeadConfig"
    resolution, batch = model.resolution, args.batch
    generator = torch.Generator(device=device).manual_seed(0)

    def images(size: int) -> torch.Tensor:
        return torch.rand(batch, 3, size, size, generator=generator, device=device) * 2 - 1

    rows = []
    with torch.inference_mode():
        native = images(resolution)
        channels_last = native.contiguous(memory_format=torch.channels_last)
        model.network.to(memory_format=torch.channels_last) if hasattr(model, "network") else None
        bare = best_time(lambda: model._logits_from_features(model._features(channels_last)), args.repeats)
        rows.append(("bare forward, channels-last", resolution, bare))
        if hasattr(model, "network"):
            model.network.to(memory_format=torch.contiguous_format)
            contiguous = best_time(lambda: model._logits_from_features(model._features(native)), args.repeats)
            model.network.to(memory_format=torch.channels_last)
            rows.append(("bare forward, contiguous (NCHW)", resolution, contiguous))
        for size in sorted({32, resolution, 2 * resolution, 256}):
            x = images(size)
            rows.append(
                (f"__call__ (checks + resize to {resolution})", size, best_time(lambda x=x: model(x), args.repeats))
            )
        many = images(resolution).repeat(4, 1, 1, 1)
        wall, cpu = best_time(lambda: model.score(many, batch_size=batch), max(1, args.repeats // 2))
        score = (wall / 4, cpu / 4)
        rows.append((f"score() of {4 * batch} images in batches of {batch}", resolution, score))

    print(
        f"classifier: {source} ({model.kind}, {len(model.attribute_names)} attributes, {resolution} px, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters)"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, device {device}, batch {batch}\n"
    )
    print("| path | input px | images/s (wall) | images per CPU-s | CPU time vs bare |")
    print("|---|---:|---:|---:|---:|")
    for name, size, (wall, cpu) in rows:
        print(f"| {name} | {size} | {batch / wall:,.0f} | {batch / cpu:,.0f} | {cpu / bare[1]:.2f}x |")


if __name__ == "__main__":
    main()
