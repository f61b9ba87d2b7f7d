"""The real images of a training run: their order, each rank's share of every batch, and checks.

The order is a fresh permutation per epoch drawn from (seed, epoch), so which images batch ``step``
holds is a pure function of (seed, step): a resumed run needs no data state, and each of several
processes takes its own contiguous slice of every global batch.
"""

from __future__ import annotations

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


def real_batches(
    dataset: ImageDataset, config: TrainConfig, start_step: int, dist_info: Distributed, workers: int
) -> Iterator[Tensor]:
    """Endless uint8 batches (B/world, C, H, W) in the order fixed by ``batch_indices``."""
    sampler = _StepBatches(start_step, config.batch_size, len(dataset), config.seed, dist_info)
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler, num_workers=workers, persistent_workers=workers > 0
    )
    return iter(loader)


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
