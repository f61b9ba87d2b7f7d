"""Numeric precision: float32, or autocast to bfloat16 / float16 on the way; and CUDA's float32 math.

``fp32`` is exact and the default. ``bf16`` autocasts the networks' matrix products and convolutions to
bfloat16 (CPU and CUDA; about 3 significant digits, so probabilities move by ~1e-3); ``fp16`` is CUDA
only. Outputs that feed statistics (probabilities, logits, features) are returned in float32 either way.
Used by collect-stats, metrics, probe and training (``genomekit.training.loop``, which adds loss scaling
for fp16). ``configure_backends`` is the command line's choice of TF32 and cuDNN autotuning on CUDA.
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


def configure_backends(device: str | torch.device, exact: bool) -> None:
    """Set CUDA's float32 math for a command: fast (TF32, autotuned kernels) or exact. CPU: nothing.

    Fast (``exact=False``): float32 matrix products and convolutions use TF32 tensor cores (10-bit
    mantissa inputs, float32 accumulation; several times faster on Ampere and later) and cuDNN
    benchmarks the convolution algorithms for each new shape (``cudnn.benchmark``). Exact
    (``exact=True``): true float32 products and one fixed, deterministic cuDNN algorithm, so a command
    repeats its numbers run after run and agrees with the CPU to float32 rounding.

    Who asks for exact: ``train --deterministic``; collect-stats, metrics and probe with
    ``--precision fp32``, whose help promises exact float32 (with bf16 or fp16 the network's products
    are already rounded far more than TF32 rounds the few float32 ones left, so those run fast).

    These are process-wide settings (``torch.backends``), so only the command line calls this, once per
    command; library code never does. The flags are set from the device string alone: no GPU is needed
    to call it (tests check the flags on a CPU machine).
    """
    if torch.device(device).type != "cuda":
        return
    fast = not exact
    torch.backends.cuda.matmul.allow_tf32 = fast
    torch.backends.cudnn.allow_tf32 = fast
    torch.backends.cudnn.benchmark = fast
    torch.backends.cudnn.deterministic = exact
