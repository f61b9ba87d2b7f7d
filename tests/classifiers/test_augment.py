import torch

from classifiers.augment import AugmentConfig, augment_batch


def test_shape_range_and_determinism():
    images = torch.rand(8, 3, 32, 32) * 2 - 1
    config = AugmentConfig(resample_probability=1.0)
    a = augment_batch(images, config, torch.Generator().manual_seed(3))
    b = augment_batch(images, config, torch.Generator().manual_seed(3))
    c = augment_batch(images, config, torch.Generator().manual_seed(4))
    assert a.shape == images.shape and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_all_off_is_identity_and_flip_only_mirrors():
    images = torch.rand(16, 3, 8, 8) * 2 - 1
    off = AugmentConfig(flip=False, max_shift=0, brightness=0, contrast=0, noise=0, resample_probability=0)
    assert torch.allclose(augment_batch(images, off, torch.Generator()), images)
    flip_only = AugmentConfig(max_shift=0, brightness=0, contrast=0, noise=0, resample_probability=0)
    out = augment_batch(images, flip_only, torch.Generator().manual_seed(0))
    for x, y in zip(images, out, strict=True):
        assert torch.equal(y, x) or torch.equal(y, x.flip(2))
    assert not torch.equal(out, images)
