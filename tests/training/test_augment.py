import pytest
import torch

from genomekit.training.augment import augment, parse_policy


def test_parse_policy():
    assert parse_policy("") == () and parse_policy("none") == ()
    assert parse_policy("color, translation") == ("color", "translation")
    with pytest.raises(ValueError, match="'flip' is unknown"):
        parse_policy("color,flip")


@pytest.mark.parametrize("name", ["color", "translation", "cutout"])
def test_augmentations_are_seeded_differentiable_and_keep_shape(name):
    x = torch.rand(6, 3, 16, 16, requires_grad=True) * 2 - 1
    a = augment(x, (name,), torch.Generator().manual_seed(0))
    b = augment(x, (name,), torch.Generator().manual_seed(0))
    c = augment(x, (name,), torch.Generator().manual_seed(1))
    assert a.shape == x.shape
    assert torch.equal(a, b) and not torch.equal(a, c)
    (grad,) = torch.autograd.grad(a.sum(), x)
    assert grad.abs().sum() > 0


def test_translation_moves_whole_pixels_and_cutout_zeroes_a_square():
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(64, 1, 1, 1)
    shifted = augment(x, ("translation",), torch.Generator().manual_seed(0))
    values = set(shifted.unique().tolist())
    assert values <= set(range(16)) | {0.0}  # nearest sampling: no blended values
    ones = torch.ones(8, 3, 16, 16)
    cut = augment(ones, ("cutout",), torch.Generator().manual_seed(0))
    zero_fraction = (cut == 0).float().mean(dim=(1, 2, 3))
    assert ((zero_fraction > 0.05) & (zero_fraction <= 0.25 + 1e-6)).all()


def test_empty_policy_is_identity():
    x = torch.randn(2, 3, 8, 8)
    assert augment(x, (), None) is x


@pytest.mark.parametrize("size", [(16, 16), (12, 24)])
def test_translation_matches_the_tensor_of_limits_it_replaced(size):
    """The shift limits are Python numbers now (no tensor built per call); the images are bit-identical."""
    import torch.nn.functional as F

    height, width = size
    x = torch.randn(5, 3, height, width)
    rng = torch.Generator().manual_seed(4)
    u = torch.rand((5, 2), generator=rng)
    max_shift = torch.tensor([int(width * 0.125), int(height * 0.125)], dtype=x.dtype)  # the old formula
    shift = ((u * 2 - 1) * (max_shift + 0.5)).round()
    theta = torch.zeros(5, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, 0, 2] = -shift[:, 0] * 2 / width
    theta[:, 1, 2] = -shift[:, 1] * 2 / height
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    expected = F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    assert torch.equal(augment(x, ("translation",), torch.Generator().manual_seed(4)), expected)
