"""genomekit.precision: the CUDA math settings a command chooses (fast or exact), set without a GPU."""

from __future__ import annotations

import pytest
import torch

from genomekit.precision import configure_backends

FLAGS = (
    (torch.backends.cuda.matmul, "allow_tf32"),
    (torch.backends.cudnn, "allow_tf32"),
    (torch.backends.cudnn, "benchmark"),
    (torch.backends.cudnn, "deterministic"),
)


@pytest.fixture
def backend_flags():
    """Put torch's process-wide flags back as they were, whatever the test set."""
    saved = [getattr(owner, name) for owner, name in FLAGS]
    yield
    for (owner, name), value in zip(FLAGS, saved, strict=True):
        setattr(owner, name, value)


def _flags() -> tuple[bool, ...]:
    return tuple(bool(getattr(owner, name)) for owner, name in FLAGS)


@pytest.mark.parametrize("device", ["cuda", "cuda:1", torch.device("cuda", 0)])
def test_cuda_is_fast_unless_exactness_is_asked(backend_flags, device):
    configure_backends(device, exact=False)
    assert _flags() == (True, True, True, False)  # TF32 matmuls and convolutions, autotuning
    configure_backends(device, exact=True)
    assert _flags() == (False, False, False, True)  # true float32, one deterministic algorithm
    configure_backends(device, exact=False)
    assert _flags() == (True, True, True, False)


@pytest.mark.parametrize("exact", [False, True])
def test_the_cpu_changes_nothing(backend_flags, exact):
    for (owner, name), value in zip(FLAGS, (True, False, True, True), strict=True):
        setattr(owner, name, value)  # neither what a fast nor what an exact CUDA call sets
    before = _flags()
    configure_backends("cpu", exact=exact)
    configure_backends(torch.device("cpu"), exact=exact)
    assert _flags() == before
