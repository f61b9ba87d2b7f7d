import pytest
import torch

from classifiers import InputShapeError, MultiHeadClassifierSet, MultiHeadConfig
from genomekit.errors import UserError

NAMES = ["A", "B", "C"]


def small_set(seed: int = 0) -> MultiHeadClassifierSet:
    model = MultiHeadClassifierSet(
        NAMES,
        MultiHeadConfig(resolution=16, stem_channels=4, channels=(4, 8)),
        generator=torch.Generator().manual_seed(seed),
    )
    return model.eval()


@pytest.mark.parametrize("size", [8, 16, 32, 37])
def test_any_square_size_gives_probabilities(size):
    model = small_set()
    images = torch.rand(5, 3, size, size) * 2 - 1
    p = model(images)
    assert p.shape == (5, 3) and p.dtype == torch.float32
    assert bool(((p >= 0) & (p <= 1)).all())
    assert torch.allclose(p, torch.sigmoid(model.logits(images)))
    assert model.features(images).shape == (5, 8)


def test_resizing_is_antialiased_not_subsampled():
    """A 32-px image must score like its antialiased 16-px version, not like every other pixel."""
    model = small_set()
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    reference = model(torch.nn.functional.interpolate(images, size=16, mode="bilinear", antialias=True))
    subsampled = model(images[:, :, ::2, ::2])
    assert torch.allclose(model(images), reference, atol=1e-6)
    assert not torch.allclose(reference, subsampled, atol=1e-4)


@pytest.mark.parametrize(
    "images, message",
    [
        (torch.zeros(2, 3, 16, 12), "must be square"),
        (torch.zeros(2, 1, 16, 16), "3 colour channels"),
        (torch.zeros(2, 4, 16, 16), "3 colour channels"),
        (torch.zeros(3, 16, 16), "shape \\(B, 3, H, W\\)"),
        (torch.zeros(2, 3, 16, 16, dtype=torch.uint8), "float in \\[-1, 1\\]"),
    ],
)
def test_wrong_inputs_give_clear_errors(images, message):
    model = small_set()
    with pytest.raises(InputShapeError, match=message) as info:
        model(images)
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)
    with pytest.raises(InputShapeError):
        model.features(images)


def test_score_in_batches_matches_one_pass():
    model = small_set()
    images = torch.rand(11, 3, 16, 16) * 2 - 1
    batched = model.score(images, batch_size=4)
    assert torch.allclose(batched, model(images), atol=1e-6)
    assert not torch.is_inference(model(images))  # forward itself keeps autograd usable
    assert model.score(images[:0]).shape == (0, 3)


def test_identity_is_stable_and_tracks_weights():
    a, b, c = small_set(0), small_set(0), small_set(1)
    assert a.identity == b.identity and len(a.identity) == 16
    assert a.identity != c.identity
    with torch.no_grad():
        b.network.head.bias.add_(0.1)
    assert b.refresh_identity() != a.identity


def test_patch_stem_quarters_the_size():
    config = MultiHeadConfig(resolution=16, stem_channels=4, stem_stride=4, channels=(4, 8))
    model = MultiHeadClassifierSet(NAMES, config, generator=torch.Generator().manual_seed(0)).eval()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert model.network.stem(x).shape == (2, 4, 4, 4)
    assert model(x).shape == (2, 3)


def test_config_is_validated():
    with pytest.raises(ValueError, match="stem stride must be 2 or 4"):
        MultiHeadConfig(stem_stride=3)
    with pytest.raises(ValueError, match="below one pixel"):
        MultiHeadConfig(resolution=8, channels=(4, 4, 4, 4))
    with pytest.raises(ValueError, match="unique"):
        MultiHeadClassifierSet(["A", "A"], MultiHeadConfig(resolution=16, channels=(4,)))
