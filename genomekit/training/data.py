"""The real images of a training run: their order, each rank's share of every batch, and checks.

The order is a fresh permutation per epoch drawn from (seed, epoch), so which images batch ``step``
holds is a pure function of (seed, step): a resumed run needs no data state, and each of several
processes takes its own contiguous slice of every global batch.

On CUDA the loader pins its batches (page-locked host memory) so that ``to_device`` can copy them
with ``non_blocking=True``, overlapping the copy with the previous step's kernels.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genomekit.data import DatasetError, ImageDataset, open_dataset
from genomekit.distributed import Distributed
from genomekit.errors import UserError
from genomekit.training.config import TrainConfig


def batch_indices(step: int, batch_size: int, num_images: int, seed: int, rank: int, world_size: int) -> list[int]:
    """Dataset indices of this rank's slice of global batch ``step``.

    The data order is a fresh permutation per epoch, drawn from (seed, epoch), and position
    ``step * batch_size + j`` of the endless sequence of epochs is sample j of batch ``step``;
    rank r takes positions [r * B/world, (r+1) * B/world). A pure function, so resuming needs no state.
    """
    per_rank = batch_size // world_size
    start = step * batch_size + rank * per_rank
    positions = np.arange(start, start + per_rank)
    indices = np.empty(per_rank, dtype=np.int64)
    for epoch in np.unique(positions // num_images):
        perm = np.random.default_rng([seed, int(epoch)]).permutation(num_images)
        mask = positions // num_images == epoch
        indices[mask] = perm[positions[mask] % num_images]
    return indices.tolist()


def dataset_resolution(data: str | Path) -> int:
    """The side of a dataset's images, so a run's resolution can follow its data.

    Cheap: it lists the images and reads the first one (what ``train`` does again before building
    networks); every image's size is checked later, by ``train``.

    Raises:
        DatasetError: the dataset cannot be opened; it is a CelebA folder (cropped and resized when read,
            so it has no resolution of its own); its images' side is not a power of two >= 4.
    """
    from genomekit.data.celeba import is_celeba_layout

    path = Path(data)
    if path.is_dir() and is_celeba_layout(path):
        raise DatasetError(
            f"{path} is a CelebA folder, whose images are cropped and resized when read, so it has no "
            "resolution of its own; choose one (a power of two such as 64 or 128)"
        )
    resolution = open_dataset(path).resolution
    if resolution < 4 or resolution & (resolution - 1):
        below = 1 << (resolution.bit_length() - 1)
        raise DatasetError(
            f"{path} holds {resolution}x{resolution} images; training needs a side that is a power of two >= 4 "
            f"(rebuild the dataset at {max(below, 4)} or {below * 2})"
        )
    return resolution


class _StepBatches(torch.utils.data.Sampler[list[int]]):
    def __init__(self, start_step: int, batch_size: int, num_images: int, seed: int, dist_info: Distributed):
        self.start_step, self.batch_size, self.num_images, self.seed = (
            start_step,
            batch_size,
            num_images,
            seed,
        )
        self.dist = dist_info

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while True:
            yield batch_indices(step, self.batch_size, self.num_images, self.seed, self.dist.rank, self.dist.world_size)
            step += 1


MAX_AUTO_WORKERS = 4  # cap of the automatic choice; leaves the other cores free (not yet tuned on a GPU)


def _available_cpus() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, as in containers)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def auto_workers(device: torch.device | str) -> int:
    """The DataLoader worker processes ``workers=None`` stands for on ``device``.

    CUDA: ``min(4, cpus - 1)`` decoding processes, leaving one core to the training process that feeds
    the GPU. CPU: 0, since the training step itself uses every core and workers would only compete
    with it. Per process: with several processes on one machine (torchrun) each gets this many, so pass
    an explicit number when the cores are fewer than about 5 per GPU.
    """
    if torch.device(device).type != "cuda":
        return 0
    return max(0, min(MAX_AUTO_WORKERS, _available_cpus() - 1))


def real_loader(
    dataset: ImageDataset,
    config: TrainConfig,
    start_step: int,
    dist_info: Distributed,
    workers: int | None = None,
    device: torch.device | str = "cpu",
) -> torch.utils.data.DataLoader:
    """The DataLoader of this rank's real batches from ``start_step`` on, in the order of ``batch_indices``.

    Args:
        workers: decoding worker processes; None = ``auto_workers(device)``. The batches do not depend
            on it: the batch sampler fixes every batch's indices and their order.
        device: where the batches will go. On CUDA they come in pinned memory, for ``to_device``.
    """
    workers = auto_workers(device) if workers is None else workers
    if workers < 0:
        raise ValueError(f"workers must be >= 0 (or None for auto), got {workers}")
    sampler = _StepBatches(start_step, config.batch_size, len(dataset), config.seed, dist_info)
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=torch.device(device).type == "cuda",
    )


def real_batches(
    dataset: ImageDataset,
    config: TrainConfig,
    start_step: int,
    dist_info: Distributed,
    workers: int | None = None,
    device: torch.device | str = "cpu",
) -> Iterator[Tensor]:
    """Endless uint8 batches (B/world, C, H, W) in the order fixed by ``batch_indices`` (see ``real_loader``)."""
    return iter(real_loader(dataset, config, start_step, dist_info, workers, device))


def to_device(batch: Tensor, device: torch.device | str) -> Tensor:
    """``batch`` on ``device``, copied asynchronously when it is in pinned memory (``real_loader`` on CUDA).

    Move the uint8 batch before converting it to float: a quarter of the bytes cross the bus. A
    non-blocking copy is safe here: the loader gives each batch its own pinned buffer, and kernels
    queued after the copy on the same stream see the data.

    Args:
        batch: (B, C, H, W) uint8 images.
    """
    return batch.to(device, non_blocking=batch.is_pinned())


# -- set-up --------------------------------------------------------------------------------------


def _check_dataset(dataset: ImageDataset, config: TrainConfig, dist_info: Distributed) -> None:
    res = config.generator.resolution
    if dataset.resolution != res:
        raise UserError(
            f"{dataset.path} has {dataset.resolution}x{dataset.resolution} images but the run's resolution is {res}; "
            f"train at {dataset.resolution} or rebuild the dataset at {res}"
        )
    if dataset.num_channels != config.generator.img_channels:
        raise UserError(f"{dataset.path} has {dataset.num_channels}-channel images; RGB (3) is expected")
    if config.batch_size % dist_info.world_size:
        raise UserError(f"batch {config.batch_size} does not split evenly over {dist_info.world_size} processes")
    dataset.check_sizes()
