"""training.data: batches independent of the worker count, pinned memory only for CUDA, auto workers."""

import itertools

import pytest
import torch

from genomekit.data import open_dataset
from genomekit.distributed import Distributed
from genomekit.training import data
from genomekit.training.data import auto_workers, batch_indices, real_batches, real_loader, to_device
from tests.training.test_train import tiny_config


def take(batches, n):
    return [b.clone() for b in itertools.islice(batches, n)]


def test_batches_do_not_depend_on_workers(tiny_dataset):
    dataset = open_dataset(tiny_dataset)
    config = tiny_config(tiny_dataset)  # 24 images, batch 8: 3 steps per epoch
    start = 2  # batches 2..5 cross two epoch boundaries
    alone = take(real_batches(dataset, config, start, Distributed(), workers=0), 4)
    pooled = take(real_batches(dataset, config, start, Distributed(), workers=2), 4)
    assert len(alone) == len(pooled) == 4
    for step, (a, b) in enumerate(zip(alone, pooled, strict=True), start):
        assert a.dtype == torch.uint8 and a.shape == (8, 3, 16, 16)
        assert torch.equal(a, b)
        expected = torch.stack([dataset[i] for i in batch_indices(step, 8, len(dataset), config.seed, 0, 1)])
        assert torch.equal(a, expected)
    assert not torch.equal(alone[0], alone[1])


def test_pin_memory_only_for_cuda(tiny_dataset):
    dataset = open_dataset(tiny_dataset)
    config = tiny_config(tiny_dataset)
    cpu = real_loader(dataset, config, 0, Distributed(), workers=0, device="cpu")
    cuda = real_loader(dataset, config, 0, Distributed(), workers=0, device=torch.device("cuda", 1))
    assert cpu.pin_memory is False
    assert cuda.pin_memory is True  # built, never iterated: this machine may have no GPU
    assert cpu.num_workers == cuda.num_workers == 0


def test_auto_workers(tiny_dataset, monkeypatch):
    monkeypatch.setattr(data, "_available_cpus", lambda: 16)
    assert auto_workers("cpu") == 0
    assert auto_workers("cuda:0") == 4
    monkeypatch.setattr(data, "_available_cpus", lambda: 3)
    assert auto_workers(torch.device("cuda")) == 2
    monkeypatch.setattr(data, "_available_cpus", lambda: 1)
    assert auto_workers("cuda") == 0
    config = tiny_config(tiny_dataset)
    loader = real_loader(open_dataset(tiny_dataset), config, 0, Distributed(), workers=None, device="cpu")
    assert loader.num_workers == 0
    with pytest.raises(ValueError, match="workers must be >= 0"):
        real_loader(open_dataset(tiny_dataset), config, 0, Distributed(), workers=-1)


def test_to_device_keeps_the_batch():
    batch = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    moved = to_device(batch, "cpu")
    assert moved.device.type == "cpu" and torch.equal(moved, batch)
