"""Per-chunk random generators: a result depends on the seed, never on batch size, resume point or rank."""

from __future__ import annotations

import numpy as np
import torch


def chunk_generator(seed: int, chunk: int) -> torch.Generator:
    """CPU generator of chunk ``chunk``, seeded from ``SeedSequence(seed, spawn_key=(chunk,))``."""
    state = np.random.SeedSequence(seed, spawn_key=(chunk,)).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))
