"""Deterministic streams of codes and images from a generator, shared by probes and metrics.

Codes are drawn in fixed chunks of ``CHUNK_SIZE``: chunk ``c`` comes from a CPU ``torch.Generator``
seeded by ``SeedSequence(seed, spawn_key=(c,))``, so the i-th code depends on the seed alone, never on
the batch size, and the first N codes of a longer run equal those of a shorter one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from genomekit.precision import autocast
from genomekit.seeding import chunk_generator

CHUNK_SIZE = 1024


def sample_codes(generator_model: nn.Module, num: int, seed: int, batch_size: int) -> Iterator[Tensor]:
    """Yield the first ``num`` codes of the seed's stream in batches of at most ``batch_size``.

    Codes are gene sequences (B, G) int64 for a genome model, z (B, z_dim) for a mapping model, on the
    model's device.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for chunk, start in enumerate(range(0, num, CHUNK_SIZE)):
        codes = generator_model.sample_codes(CHUNK_SIZE, generator=chunk_generator(seed, chunk))
        codes = codes[: min(CHUNK_SIZE, num - start)]
        for i in range(0, len(codes), batch_size):
            yield codes[i : i + batch_size]


@torch.inference_mode()
def generate(generator_model: nn.Module, codes: Tensor, precision: str = "fp32") -> Tensor:
    """Images (B, 3, R, R) float32 in about [-1, 1] for ``codes``, with constant noise (a function of the code).

    ``precision``: "fp32", or "bf16" / "fp16" to autocast the synthesis (``genomekit.precision``).
    """
    with autocast(precision, module_device(generator_model)):
        return generator_model(codes, noise_mode="const").float()


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); the CPU for a module with neither."""
    first = next(itertools.chain(module.parameters(), module.buffers()), None)
    return first.device if first is not None else torch.device("cpu")
