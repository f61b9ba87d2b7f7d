"""Perceptual distances between images, for projection and insertion (``genomekit project|insert``).

LPIPS (Zhang et al. 2018), the paper's choice, needs VGG16 weights that no installable package ships
(FINDINGS.md: torchvision does not import beside the CPU torch wheel, and nothing may download at run
time). So there are two distances:

* ``ClassifierDistance`` (the offline default): LPIPS' recipe without its learned weights, on the
  attribute classifier set's own convolutional features. Each tapped layer's activations are unit-
  normalised along the channels, the squared differences summed over channels and averaged over
  positions, and the layers added with equal weights (LPIPS' "baseline" variant). A multi-head set taps
  its stem and every stage; a CelebA-HQ set taps every block of each of its networks.
* ``LPIPS``: the real VGG16 LPIPS (v0.1), for a user who has its weights, from one file given by path
  (safetensors, or a plain state-dict file read with ``torch.load(weights_only=True)``, which never runs
  stored code). The file holds torchvision's VGG16 ``features.N.weight/bias`` tensors and LPIPS'
  ``lin0.model.1.weight`` ... ``lin4.model.1.weight``; README.md shows how to write it.

Both are ``nn.Module``s: ``distance(a, b)`` gives (N,) for images (N, 3, H, W) in [-1, 1] and is
differentiable in ``a``; ``features(b)`` precomputes the target's side once.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genomekit.errors import UserError

PERCEPTUAL_KINDS = ("classifier", "lpips", "none")

# VGG16's convolutions (torchvision's `features` indices) and the five ReLU outputs LPIPS taps.
_VGG16_LAYERS = (
    (0, 3, 64), (2, 64, 64), "pool",
    (5, 64, 128), (7, 128, 128), "pool",
    (10, 128, 256), (12, 256, 256), (14, 256, 256), "pool",
    (17, 256, 512), (19, 512, 512), (21, 512, 512), "pool",
    (24, 512, 512), (26, 512, 512), (28, 512, 512),
)  # fmt: skip
_LPIPS_TAPS = (2, 7, 14, 21, 28)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (after these convs)
_LPIPS_SHIFT = (-0.030, -0.088, -0.188)  # LPIPS' ScalingLayer: inputs in [-1, 1] to ImageNet statistics
_LPIPS_SCALE = (0.458, 0.448, 0.450)


def _unit_normalize(x: Tensor, eps: float = 1e-10) -> Tensor:
    """(B, C, H, W) divided by its L2 norm along C (LPIPS' ``normalize_tensor``)."""
    return x / (x.square().sum(dim=1, keepdim=True).sqrt() + eps)


def _layer_distance(a: Tensor, b: Tensor, weight: Tensor | None = None) -> Tensor:
    """(B,) from two (B, C, H, W) activations: channel-normalised squared difference, averaged over H, W."""
    diff = (_unit_normalize(a) - _unit_normalize(b)).square()  # (B, C, H, W)
    diff = diff.sum(dim=1) if weight is None else (diff * weight.view(1, -1, 1, 1)).sum(dim=1)  # (B, H, W)
    return diff.mean(dim=(1, 2))


class ClassifierDistance(nn.Module):
    """LPIPS' baseline distance on a classifier set's convolutional features (no learned weights)."""

    def __init__(self, classifiers: nn.Module) -> None:
        super().__init__()
        self.classifiers = classifiers.eval().requires_grad_(False)
        self.layers = feature_layers(classifiers)

    def features(self, images: Tensor) -> list[Tensor]:
        """The tapped activations of images (B, 3, H, W) in [-1, 1], resized to the set's resolution."""
        taps: list[Tensor] = []
        hooks = [layer.register_forward_hook(lambda _m, _i, out: taps.append(out)) for layer in self.layers]
        try:
            self.classifiers.features(images)
        finally:
            for hook in hooks:
                hook.remove()
        return [t.float() for t in taps]

    def distance(self, images: Tensor, target: Tensor | list[Tensor]) -> Tensor:
        """(B,) distances of images to ``target`` (images, or their ``features``)."""
        ours = self.features(images)
        theirs = self.features(target) if isinstance(target, Tensor) else target
        return sum(_layer_distance(a, b) for a, b in zip(ours, theirs, strict=True))


def feature_layers(classifiers: nn.Module) -> list[nn.Module]:
    """The modules whose outputs ``ClassifierDistance`` compares, for the set's kind."""
    network = getattr(classifiers, "network", None)
    if network is not None and hasattr(network, "stem") and hasattr(network, "stages"):
        return [network.stem, *network.stages]  # multi-head set
    networks = getattr(classifiers, "networks", None)
    if networks is not None and all(hasattr(n, "block_names") for n in networks):
        return [getattr(n, name) for n in networks for name in n.block_names]  # CelebA-HQ set
    kind = getattr(classifiers, "kind", type(classifiers).__name__)
    raise UserError(
        f"a classifier set of kind {kind!r} has no known feature layers for a perceptual distance; "
        "use --perceptual lpips --lpips-weights PATH, or --perceptual none"
    )


class LPIPS(nn.Module):
    """LPIPS v0.1 with a VGG16 backbone: inputs in [-1, 1], any size >= 16 px (no resizing)."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleDict()
        for layer in _VGG16_LAYERS:
            if layer != "pool":
                index, c_in, c_out = layer
                self.convs[str(index)] = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.lins = nn.ParameterList([nn.Parameter(torch.ones(1, c, 1, 1)) for c in (64, 128, 256, 512, 512)])
        self.register_buffer("shift", torch.tensor(_LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    @classmethod
    def from_file(cls, path: str | Path, device: str | torch.device = "cpu") -> LPIPS:
        """Load VGG16 + LPIPS linear weights from one file (see the module docstring); a UserError if wrong."""
        path = Path(path).expanduser()
        if not path.is_file():
            raise UserError(f"--lpips-weights {path}: no such file")
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise UserError(f"--lpips-weights {path}: not a weights file ({type(error).__name__})") from None
        model = cls()
        wanted = {}
        for index in model.convs:
            wanted[f"features.{index}.weight"] = model.convs[index].weight
            wanted[f"features.{index}.bias"] = model.convs[index].bias
        for i, lin in enumerate(model.lins):
            wanted[f"lin{i}.model.1.weight"] = lin
        missing = [k for k in wanted if k not in state]
        if missing:
            raise UserError(
                f"--lpips-weights {path}: missing {len(missing)} of the VGG16/LPIPS tensors (first: {missing[0]}); "
                "see README.md, 'Projection', for how to write the file"
            )
        for key, parameter in wanted.items():
            if tuple(state[key].shape) != tuple(parameter.shape):
                raise UserError(
                    f"--lpips-weights {path}: {key} has shape {tuple(state[key].shape)}, expected {tuple(parameter.shape)}"
                )
            parameter.data.copy_(state[key].float())
        return model.to(device).eval()

    def features(self, images: Tensor) -> list[Tensor]:
        x = (images.float() - self.shift) / self.scale
        taps = []
        for layer in _VGG16_LAYERS:
            if layer == "pool":
                x = F.max_pool2d(x, 2)
                continue
            x = F.relu(self.convs[str(layer[0])](x))
            if layer[0] in _LPIPS_TAPS:
                taps.append(x)
        return taps

    def distance(self, images: Tensor, target: Tensor | list[Tensor]) -> Tensor:
        ours = self.features(images)
        theirs = self.features(target) if isinstance(target, Tensor) else target
        return sum(_layer_distance(a, b, lin.flatten()) for a, b, lin in zip(ours, theirs, self.lins, strict=True))


def perceptual_distance(
    kind: str, classifiers: nn.Module | None = None, lpips_weights: str | Path | None = None, device="cpu"
) -> nn.Module | None:
    """The distance for ``--perceptual kind`` (None for "none"); a UserError naming what is missing."""
    if kind not in PERCEPTUAL_KINDS:
        raise UserError(f"--perceptual must be one of {', '.join(PERCEPTUAL_KINDS)}, got {kind!r}")
    if kind == "none":
        return None
    if kind == "lpips":
        if lpips_weights is None:
            raise UserError("--perceptual lpips needs --lpips-weights PATH (VGG16 + LPIPS weights, see README.md)")
        return LPIPS.from_file(lpips_weights, device)
    if classifiers is None:
        raise ValueError("the classifier distance needs a classifier set")
    return ClassifierDistance(classifiers)
