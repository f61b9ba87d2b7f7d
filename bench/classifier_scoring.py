"""Scoring throughput of a classifier set on this machine: images/s at batch 256.

Compares the bare network forward (images already at the set's resolution, channels-last, inference
mode) with the full ``__call__`` (shape checks, resize with antialiasing, channels-last conversion)
for inputs of several sizes, and channels-last against the default memory format. Prints a Markdown
table with ratios measured in this one run.

    .venv/bin/python bench/classifier_scoring.py [--classifier default] [--batch 256] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch

# This file is named like the package it measures: drop its own folder from the path so that
# `import classifiers` finds the package, not this script.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from classifiers import MultiHeadClassifierSet, MultiHeadConfig, load_classifier_set  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", default="default", help="classifier set directory, or 'default'")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

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
