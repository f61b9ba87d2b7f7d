"""Numeric precision of inference: float32, or autocast to bfloat16 / float16 on the way.

``fp32`` is exact and the default. ``bf16`` autocasts the networks' matrix products and convolutions to
bfloat16 (CPU and CUDA; about 3 significant digits, so probabilities move by ~1e-3); ``fp16`` is CUDA
only. Outputs that feed statistics (probabilities, logits) are returned in float32 either way.
"""

from __future__ import annotations

import contextlib

import torch

from genomekit.errors import UserError

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str, device: str | torch.device) -> str:
    """``precision`` if it is known and the device can run it; a UserError otherwise."""
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp16" and torch.device(device).type != "cuda":
        raise UserError("precision fp16 needs a CUDA device; use bf16 (or fp32) on the CPU")
    return precision


def autocast(precision: str, device: str | torch.device) -> contextlib.AbstractContextManager:
    """The autocast context for ``precision`` on ``device`` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=_DTYPES[precision])
