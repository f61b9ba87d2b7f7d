"""The ClassifierSet interface: images in [-1, 1] of any square size -> per-attribute probabilities.

Every classifier set (the multi-head CNN trained here, the StyleGAN CelebA-HQ networks, a user's own)
is a ``torch.nn.Module`` subclass of ``ClassifierSet``. Subclasses implement two methods on images
already at ``self.resolution``:

* ``_features(x)``: (B, 3, R, R) -> (B, F) penultimate features;
* ``_logits_from_features(f)``: (B, F) -> (B, A) logits, where p = sigmoid(logit).

The base class checks shapes, resizes with antialiasing, uses channels-last memory, and derives
``forward`` (probabilities), ``logits`` and ``features``. ``score`` runs a large tensor through in
batches, in inference mode (``genomekit.inference.score``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genomekit import inference
from genomekit.errors import UserError


class InputShapeError(UserError, ValueError):
    """Images of a shape or type a classifier set cannot take."""


def check_images(images: Any) -> Tensor:
    """Raise InputShapeError unless ``images`` is a float tensor (B, 3, H, W) with H == W."""
    if not isinstance(images, Tensor):
        raise InputShapeError(f"images must be a torch.Tensor (B, 3, H, W), got {type(images).__name__}")
    if images.ndim != 4:
        raise InputShapeError(
            f"images must have shape (B, 3, H, W), got {tuple(images.shape)}; add a batch dimension "
            "with images[None] for a single image"
        )
    if images.shape[1] != 3:
        raise InputShapeError(
            f"images must have 3 colour channels (B, 3, H, W), got {images.shape[1]} in shape "
            f"{tuple(images.shape)}; repeat grey images with images.expand(-1, 3, -1, -1)"
        )
    if images.shape[2] != images.shape[3]:
        raise InputShapeError(
            f"images must be square, got {images.shape[3]}x{images.shape[2]} (W x H); crop or pad first"
        )
    if not images.is_floating_point():
        raise InputShapeError(
            f"images must be float in [-1, 1], got {images.dtype}; convert uint8 with x.float() / 127.5 - 1"
        )
    return images


def resize_images(images: Tensor, resolution: int) -> Tensor:
    """Resize square images (B, C, H, H) to (B, C, resolution, resolution): bilinear with antialiasing.

    Antialiasing matters when shrinking (a 256-px GAN image scored at 64 px); enlarging is plain bilinear.
    """
    if images.shape[-1] == resolution:
        return images
    return F.interpolate(images, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)


def tensors_identity(kind: str, config: dict[str, Any], tensors: dict[str, Tensor]) -> str:
    """A stable hex digest of a classifier set's kind, config and weights (as float32, sorted by name)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"kind": kind, "config": config}, sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        if tensor.is_floating_point():
            tensor = tensor.float()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()[:16]


class ClassifierSet(nn.Module):
    """A set of A binary attribute classifiers behind one interface.

    Attributes:
        attribute_names: the A attribute names, in output column order.
        resolution: the input size R the networks see; other sizes are resized (antialiased) to it.
        kind: the implementation's short name, saved in ``classifier.json``.
    """

    kind: str = "base"

    def __init__(self, attribute_names: Sequence[str], resolution: int) -> None:
        super().__init__()
        if len(attribute_names) == 0:
            raise ValueError("a classifier set needs at least one attribute name")
        if len(set(attribute_names)) != len(attribute_names):
            raise ValueError(f"attribute names must be unique, got {list(attribute_names)}")
        if resolution < 4:
            raise ValueError(f"resolution must be at least 4, got {resolution}")
        self.attribute_names: tuple[str, ...] = tuple(attribute_names)
        self.resolution = int(resolution)
        self._identity: str | None = None

    # -- to implement --------------------------------------------------------------------------------

    def _features(self, x: Tensor) -> Tensor:
        """(B, 3, R, R) float in [-1, 1], channels-last -> (B, F)."""
        raise NotImplementedError

    def _logits_from_features(self, features: Tensor) -> Tensor:
        """(B, F) -> (B, A) logits."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The architecture as JSON-able values (saved beside the weights, part of the identity)."""
        return {}

    def _probabilities_from_logits(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits)

    # -- the interface -------------------------------------------------------------------------------

    @property
    def num_attributes(self) -> int:
        return len(self.attribute_names)

    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        return torch.device("cpu")

    def prepare(self, images: Tensor) -> Tensor:
        """Check (B, 3, H, H) float images, move them to this set's device, resize to R, channels-last."""
        images = check_images(images)
        images = images.to(device=self.device, dtype=torch.float32)
        images = resize_images(images, self.resolution)  # (B, 3, R, R)
        return images.contiguous(memory_format=torch.channels_last)

    def features(self, images: Tensor) -> Tensor:
        """Penultimate features (B, F) of images (B, 3, H, H) in [-1, 1], for Fréchet distances."""
        return self._features(self.prepare(images)).float()

    def logits(self, images: Tensor) -> Tensor:
        """Logits (B, A) of images (B, 3, H, H) in [-1, 1]; p = sigmoid(logit)."""
        return self._logits_from_features(self._features(self.prepare(images))).float()

    def probabilities_and_features(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Probabilities (B, A) and penultimate features (B, F) from one pass through the backbone."""
        features = self._features(self.prepare(images))
        return self._probabilities_from_logits(self._logits_from_features(features).float()), features.float()

    def forward(self, images: Tensor) -> Tensor:
        """Probabilities (B, A) float32 that each attribute is present, for images (B, 3, H, H) in [-1, 1]."""
        return self._probabilities_from_logits(self.logits(images))

    @torch.inference_mode()
    def score(self, images: Tensor, batch_size: int = 256, *, features: bool = False) -> Tensor:
        """Probabilities (N, A) (or features (N, F)) of many images (N, 3, H, H), in batches, inference mode.

        The result is on the CPU; each batch moves to this set's device on its own.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        check_images(images)
        if len(images) == 0:
            return torch.empty(0, self._feature_width() if features else self.num_attributes)
        was_training = self.training
        self.eval()
        try:
            probabilities, penultimate = inference.score(self, images, batch_size)
        finally:
            self.train(was_training)
        return penultimate if features else probabilities

    def _feature_width(self) -> int:
        with torch.inference_mode():
            probe = torch.zeros(1, 3, self.resolution, self.resolution, device=self.device)
            return self.features(probe).shape[1]

    @property
    def identity(self) -> str:
        """A stable 16-hex-digit hash of kind, config, attribute names, resolution and weights.

        Computed once and cached: modify the weights and call ``refresh_identity()``.
        """
        if self._identity is None:
            self._identity = self.refresh_identity()
        return self._identity

    def refresh_identity(self) -> str:
        config = {"attribute_names": list(self.attribute_names), "resolution": self.resolution, **self.config()}
        self._identity = tensors_identity(self.kind, config, self.state_dict())
        return self._identity

    def extra_repr(self) -> str:
        return f"attributes={self.num_attributes}, resolution={self.resolution}"
