"""Several processes (``torchrun``): where this one stands, joining the group, flags every rank
agrees on, work done once on rank 0, and leaving together.

Every multi-process command (``train``, ``collect-stats``) follows one protocol:

1. :func:`from_environment` reads torchrun's ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``;
2. :func:`join` selects this process's GPU (``cuda:LOCAL_RANK``) and joins the process group
   (nccl on CUDA, gloo on CPU), so no two ranks share a device;
3. the job runs; whether to stop is decided together with :func:`any_rank`;
4. :func:`on_main` runs the finishing step on rank 0 only and hands its failure to every rank, so all
   raise the same error rather than leaving the others waiting;
5. :func:`leave` waits for every rank at a barrier, then tears the group down.

Alone (no torchrun) every function is a no-op and :class:`Distributed` is rank 0 of 1.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch

from genomekit.errors import UserError

T = TypeVar("T")

# Ranks may meet only at the end of a long job; the default 30-minute timeout would end it.
GROUP_TIMEOUT = datetime.timedelta(days=7)


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in a multi-process run (rank 0 of 1 when alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def multi(self) -> bool:
        return self.world_size > 1


def from_environment(environ: dict[str, str] | None = None) -> Distributed:
    """torchrun's variables; rank 0 of 1 without them.

    Raises:
        UserError: the variables are inconsistent (not integers, rank outside the world).
    """
    environ = os.environ if environ is None else environ
    try:
        world = int(environ.get("WORLD_SIZE", "1"))
        rank = int(environ.get("RANK", "0"))
        local_rank = int(environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise UserError("RANK, LOCAL_RANK and WORLD_SIZE must be integers (as torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world or local_rank < 0:
        raise UserError(f"RANK {rank} is outside WORLD_SIZE {world} (or LOCAL_RANK {local_rank} < 0)")
    return Distributed(rank=rank, world_size=world, local_rank=local_rank)


def join(dist_info: Distributed, device: str) -> str:
    """Join the process group of a multi-process run; returns this process's device.

    On CUDA each rank takes ``cuda:LOCAL_RANK`` (a ``--device cuda:N`` would put every rank on one
    GPU) and calls ``torch.cuda.set_device`` so collectives and new tensors land there.
    """
    if not dist_info.multi:
        return device
    import torch.distributed as dist

    if device.startswith("cuda"):
        if dist_info.local_rank >= torch.cuda.device_count():
            raise UserError(
                f"LOCAL_RANK {dist_info.local_rank} but this machine has {torch.cuda.device_count()} CUDA device(s); "
                "start at most one process per GPU (torchrun --nproc-per-node)"
            )
        device = f"cuda:{dist_info.local_rank}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend, timeout=GROUP_TIMEOUT)
    return device


def any_rank(flag: bool, dist_info: Distributed, device: str | torch.device) -> bool:
    """True on every rank when ``flag`` is true on any rank (an all-reduce of the maximum)."""
    if not dist_info.multi:
        return flag
    import torch.distributed as dist

    value = torch.tensor([float(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def on_main(dist_info: Distributed, device: str | torch.device, fn: Callable[[], T]) -> T | None:
    """Run ``fn`` on rank 0 only; a UserError there is raised on every rank, with its message.

    Every rank returns together (after a barrier); only rank 0 returns ``fn``'s result.
    """
    if not dist_info.multi:
        return fn()
    import torch.distributed as dist

    result, message = None, None
    if dist_info.is_main:
        try:
            result = fn()
        except UserError as error:
            message = str(error)
    shared = [message]
    dist.broadcast_object_list(shared, src=0, device=torch.device(device) if str(device) != "cpu" else None)
    dist.barrier()
    if shared[0] is not None:
        raise UserError(shared[0])
    return result


def broadcast_module(module: torch.nn.Module, dist_info: Distributed) -> None:
    """Give every rank rank 0's parameters and buffers (a seeded init is identical only on one device type)."""
    if not dist_info.multi:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.is_contiguous():
                dist.broadcast(tensor.data, src=0)
            else:  # channels-last weights: collectives want a dense layout
                dense = tensor.data.contiguous()
                dist.broadcast(dense, src=0)
                tensor.data.copy_(dense)


def leave(dist_info: Distributed, *, wait: bool = True) -> None:
    """Leave the process group; with ``wait``, after a barrier, so no rank tears it down under another.

    ``wait=False`` is for a failing rank that must not block on the others.
    """
    if not dist_info.multi:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        return
    try:
        if wait:
            dist.barrier()
    finally:
        dist.destroy_process_group()
