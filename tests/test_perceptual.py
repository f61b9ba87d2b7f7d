"""Perceptual distances: zero for equal images, larger for larger changes, differentiable, LPIPS file checks."""

import pytest
import torch
from safetensors.torch import save_file

from classifiers.multihead import MultiHeadClassifierSet, MultiHeadConfig
from genomekit.errors import UserError
from genomekit.perceptual import LPIPS, ClassifierDistance, feature_layers, perceptual_distance


def _images(seed, n=2, r=32):
    return torch.rand(n, 3, r, r, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture(scope="module")
def classifier_set():
    config = MultiHeadConfig(resolution=32, stem_channels=8, channels=(8, 16))
    return MultiHeadClassifierSet(["a", "b"], config, generator=torch.Generator().manual_seed(0)).eval()


def test_classifier_distance_orders_changes_and_has_gradients(classifier_set):
    distance = ClassifierDistance(classifier_set)
    assert len(feature_layers(classifier_set)) == 3  # the stem and two stages
    a = _images(0)
    noise = _images(1)
    assert torch.allclose(distance.distance(a, a), torch.zeros(2), atol=1e-6)
    small = distance.distance((a + 0.05 * noise).clamp(-1, 1), a)
    large = distance.distance((a + 0.5 * noise).clamp(-1, 1), a)
    assert (small > 0).all() and (large > small).all()
    x = a.clone().requires_grad_(True)
    distance.distance(x, distance.features(_images(2))).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in classifier_set.parameters())


def test_celebahq_sets_tap_every_block():
    from classifiers.celebahq import CelebAHQClassifierSet, CelebAHQConfig, CelebAHQNetwork

    config = CelebAHQConfig(resolution=16, fmap_base=64, fmap_max=16)
    networks = [CelebAHQNetwork(config) for _ in range(2)]
    layers = feature_layers(CelebAHQClassifierSet(["x", "y"], networks))
    assert len(layers) == 2 * len(networks[0].block_names)


def _lpips_file(path, seed=0):
    model = LPIPS()
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for index, conv in model.convs.items():
        tensors[f"features.{index}.weight"] = torch.randn(conv.weight.shape, generator=g) * 0.1
        tensors[f"features.{index}.bias"] = torch.zeros(conv.bias.shape)
    for i, lin in enumerate(model.lins):
        tensors[f"lin{i}.model.1.weight"] = torch.rand(lin.shape, generator=g)
    save_file(tensors, str(path))
    return tensors


def test_lpips_loads_its_weights_and_weighs_layers(tmp_path):
    tensors = _lpips_file(tmp_path / "lpips.safetensors")
    model = LPIPS.from_file(tmp_path / "lpips.safetensors")
    assert torch.equal(model.convs["28"].weight, tensors["features.28.weight"])
    a, b = _images(0), _images(1)
    assert torch.allclose(model.distance(a, a), torch.zeros(2), atol=1e-6)
    # by hand: unit-normalise each tap along channels, weigh channels by lin, sum, average over positions
    expected = 0
    for fa, fb, lin in zip(model.features(a), model.features(b), model.lins, strict=True):
        na = fa / (fa.norm(dim=1, keepdim=True) + 1e-10)
        nb = fb / (fb.norm(dim=1, keepdim=True) + 1e-10)
        expected = expected + ((na - nb) ** 2 * lin).sum(dim=1).mean(dim=(1, 2))
    assert torch.allclose(model.distance(a, b), expected, rtol=1e-5)
    torch.save(tensors, tmp_path / "lpips.pt")  # a plain state-dict file loads too (weights_only)
    assert torch.equal(LPIPS.from_file(tmp_path / "lpips.pt").lins[0], model.lins[0])


def test_lpips_file_errors(tmp_path):
    tensors = _lpips_file(tmp_path / "full.safetensors")
    del tensors["lin4.model.1.weight"]
    save_file(tensors, str(tmp_path / "partial.safetensors"))
    with pytest.raises(UserError, match="missing 1 of the VGG16/LPIPS tensors"):
        LPIPS.from_file(tmp_path / "partial.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(UserError, match="not a weights file"):
        LPIPS.from_file(tmp_path / "junk.safetensors")
    with pytest.raises(UserError, match="no such file"):
        LPIPS.from_file(tmp_path / "absent.pt")
    with pytest.raises(UserError, match="needs --lpips-weights"):
        perceptual_distance("lpips")
    with pytest.raises(UserError, match="--perceptual must be one of"):
        perceptual_distance("vgg")
    assert perceptual_distance("none") is None
