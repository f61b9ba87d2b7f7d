"""PSNR and SSIM against plain numpy references."""

import math

import numpy as np
import pytest
import torch

from genomekit.metrics.reconstruction import SSIM_SIGMA, mse, psnr, ssim


def _images(seed, n=3, c=3, r=24):
    return torch.rand(n, c, r, r, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _ssim_numpy(x, y, size=11, sigma=SSIM_SIGMA):
    """Wang et al.'s SSIM on [0, 1] images (C, H, W), valid windows, written as loops over positions."""
    g = np.exp(-((np.arange(size) - (size - 1) / 2) ** 2) / (2 * sigma**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for channel in range(x.shape[0]):
        for i in range(x.shape[1] - size + 1):
            for j in range(x.shape[2] - size + 1):
                a = x[channel, i : i + size, j : j + size]
                b = y[channel, i : i + size, j : j + size]
                ma, mb = (window * a).sum(), (window * b).sum()
                va, vb = (window * a * a).sum() - ma**2, (window * b * b).sum() - mb**2
                cov = (window * a * b).sum() - ma * mb
                values.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_psnr_matches_numpy():
    a, b = _images(0), _images(1)
    x, y = (a.numpy() + 1) / 2, (b.numpy() + 1) / 2
    expected = [-10 * math.log10(((x[i] - y[i]) ** 2).mean()) for i in range(len(x))]
    assert torch.allclose(psnr(a, b), torch.tensor(expected, dtype=torch.float32), atol=1e-4)
    assert torch.allclose(mse(a, b), torch.tensor([((x[i] - y[i]) ** 2).mean() for i in range(3)]), atol=1e-6)
    assert torch.isinf(psnr(a, a)).all()


def test_ssim_matches_numpy_and_is_one_for_equal_images():
    a = _images(2, n=2, r=16)
    b = (a + 0.3 * _images(3, n=2, r=16)).clamp(-1, 1)
    ours = ssim(a, b)
    for i in range(2):
        expected = _ssim_numpy((a[i].numpy() + 1) / 2, (b[i].numpy() + 1) / 2)
        assert ours[i].item() == pytest.approx(expected, abs=1e-5)
    assert torch.allclose(ssim(a, a), torch.ones(2), atol=1e-6)
    assert (ssim(a, -a) < ours).all()


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="one shape"):
        psnr(_images(0), _images(0, r=8))
