"""StyleGAN's CelebA-HQ attribute classifiers: one ProGAN/StyleGAN-discriminator-like network per attribute.

The StyleGAN paper's perceptual-path-length and linear-separability metrics (and the StyleGenes paper's
analysis) score images with 40 binary classifiers, ``celebahq-classifier-00-male.pkl`` ...
``celebahq-classifier-39-wearing-necktie.pkl``. Each is a discriminator network (StyleGAN ``D_basic``)
with a 256-px input in [-1, 1] and one output ``l``; the probability that the attribute is present is
``p = softmax([l, -l])[0] = sigmoid(2 l)``.

This module re-implements that network in PyTorch (``CelebAHQNetwork``) and wraps many of them as one
``ClassifierSet``. The official files are TensorFlow pickles; ``classifiers/convert_tf.py`` turns their
weights into state dicts with the key names used here (see ``classifiers/README.md``).

One network, for R = 256 (nf(s) = min(fmap_base / 2^s, fmap_max) channels at stage s)::

    fromrgb     1x1 conv, lrelu                          (B, 3, 256, 256)  -> (B, 64, 256, 256)
    b256        conv0 3x3; [blur] conv1_down 3x3 /2      -> (B, 128, 128, 128)
    b128 ... b8 the same                                 -> (B, 512, 4, 4)
    b4          minibatch stddev (+1 channel); conv 3x3; dense0 (features, 512); dense1 -> (B, 1) = l

Weights are stored as the TF code stores them (unit normal; the He constant gain / sqrt(fan_in) is
applied at run time: "equalized learning rate"), transposed to PyTorch's layout.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from classifiers.base import ClassifierSet
from genomekit.errors import UserError

# The 40 official files in order: (file name slug, CelebA attribute name).
CELEBAHQ_CLASSIFIERS: tuple[tuple[str, str], ...] = (
    ("male", "Male"),
    ("smiling", "Smiling"),
    ("attractive", "Attractive"),
    ("wavy-hair", "Wavy_Hair"),
    ("young", "Young"),
    ("5-o-clock-shadow", "5_o_Clock_Shadow"),
    ("arched-eyebrows", "Arched_Eyebrows"),
    ("bags-under-eyes", "Bags_Under_Eyes"),
    ("bald", "Bald"),
    ("bangs", "Bangs"),
    ("big-lips", "Big_Lips"),
    ("big-nose", "Big_Nose"),
    ("black-hair", "Black_Hair"),
    ("blond-hair", "Blond_Hair"),
    ("blurry", "Blurry"),
    ("brown-hair", "Brown_Hair"),
    ("bushy-eyebrows", "Bushy_Eyebrows"),
    ("chubby", "Chubby"),
    ("double-chin", "Double_Chin"),
    ("eyeglasses", "Eyeglasses"),
    ("goatee", "Goatee"),
    ("gray-hair", "Gray_Hair"),
    ("heavy-makeup", "Heavy_Makeup"),
    ("high-cheekbones", "High_Cheekbones"),
    ("mouth-slightly-open", "Mouth_Slightly_Open"),
    ("mustache", "Mustache"),
    ("narrow-eyes", "Narrow_Eyes"),
    ("no-beard", "No_Beard"),
    ("oval-face", "Oval_Face"),
    ("pale-skin", "Pale_Skin"),
    ("pointy-nose", "Pointy_Nose"),
    ("receding-hairline", "Receding_Hairline"),
    ("rosy-cheeks", "Rosy_Cheeks"),
    ("sideburns", "Sideburns"),
    ("straight-hair", "Straight_Hair"),
    ("wearing-earrings", "Wearing_Earrings"),
    ("wearing-hat", "Wearing_Hat"),
    ("wearing-lipstick", "Wearing_Lipstick"),
    ("wearing-necklace", "Wearing_Necklace"),
    ("wearing-necktie", "Wearing_Necktie"),
)
FILE_PATTERN = re.compile(r"^celebahq-classifier-(\d{2})-([a-z0-9-]+)\.(pt|pth|bin|safetensors)$")
STATE_DICT_SUFFIXES = ("pt", "pth", "bin", "safetensors")  # what FILE_PATTERN accepts
_ANY_SUFFIX = re.compile(r"^celebahq-classifier-(\d{2})-([a-z0-9-]+)\.([a-z]+)$")
SETTINGS_FILE = "celebahq.json"  # optional: {"blur": true, "mbstd_group_size": 4, ...} for every network


@dataclass(frozen=True, kw_only=True)
class CelebAHQConfig:
    """Architecture of one CelebA-HQ classifier network (StyleGAN D_basic, label_size 0)."""

    resolution: int = 256  # R, input size (a power of two)
    fmap_base: int = 8192  # channels at stage s: min(fmap_base / 2^(s * fmap_decay), fmap_max)
    fmap_decay: float = 1.0
    fmap_max: int = 512
    mbstd_group_size: int = 4  # minibatch standard deviation over groups of this many images; 0 = off
    mbstd_num_features: int = 1
    blur: bool = True  # [1, 2, 1] low-pass before each down-sampling conv (StyleGAN); False = ProGAN D_paper

    def __post_init__(self) -> None:
        log2 = round(math.log2(self.resolution)) if self.resolution > 0 else 0
        if self.resolution < 8 or 2**log2 != self.resolution:
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")
        if self.fmap_base < 1 or self.fmap_max < 1:
            raise ValueError(f"fmap_base and fmap_max must be positive, got {self.fmap_base}, {self.fmap_max}")
        if self.mbstd_group_size < 0 or self.mbstd_num_features < 1:
            raise ValueError("mbstd_group_size must be >= 0 and mbstd_num_features >= 1")

    @property
    def resolution_log2(self) -> int:
        return round(math.log2(self.resolution))

    def nf(self, stage: int) -> int:
        return min(int(self.fmap_base / (2.0 ** (stage * self.fmap_decay))), self.fmap_max)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CelebAHQConfig:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class EqualizedConv2d(nn.Module):
    """Conv with unit-normal weights scaled by gain / sqrt(fan_in) at run time; optional fused /2 down-sampling."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, *, down: bool = False, gain: float = math.sqrt(2)
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel * kernel)
        self.down = down

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight * self.scale
        if not self.down:
            return F.conv2d(x, w, self.bias, padding=self.weight.shape[-1] // 2)
        # Fused conv + 2x2 average pool: the 3x3 kernel summed at four offsets into a 4x4 kernel, stride 2.
        w = F.pad(w, (1, 1, 1, 1))
        w = (w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]) * 0.25
        return F.conv2d(x, w, self.bias, stride=2, padding=1)


class EqualizedLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, *, gain: float = math.sqrt(2)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def blur_kernel() -> Tensor:
    """The normalised [1, 2, 1] x [1, 2, 1] low-pass filter: (3, 3) float32 (exact in every float type)."""
    taps = torch.tensor([1.0, 2.0, 1.0])
    return (taps[:, None] * taps[None, :]) / 16.0


def _blur(x: Tensor, kernel: Tensor) -> Tensor:
    """Depthwise ``kernel`` (3, 3), zero padding ('SAME'): (B, C, H, W) -> (B, C, H, W)."""
    weight = kernel.to(x.device, x.dtype).expand(x.shape[1], 1, 3, 3)
    return F.conv2d(x, weight, padding=1, groups=x.shape[1])


def minibatch_stddev(x: Tensor, group_size: int, num_features: int = 1) -> Tensor:
    """Append the mean standard deviation over groups of images as extra channels: (B, C, H, W) -> (B, C+n, H, W).

    Like the TF layer, image b belongs to group b mod (B / G). When B is not a multiple of
    ``group_size``, the largest divisor of B below it is used (TF would fail).
    """
    batch, channels, height, width = x.shape
    group = min(group_size, batch)
    while batch % group:
        group -= 1
    y = x.float().reshape(group, -1, num_features, channels // num_features, height, width)  # (G, M, n, c, H, W)
    y = y - y.mean(dim=0, keepdim=True)
    y = (y.square().mean(dim=0) + 1e-8).sqrt()  # (M, n, c, H, W)
    y = y.mean(dim=(2, 3, 4))  # (M, n)
    y = y.to(x.dtype)[:, :, None, None].repeat(group, 1, height, width)  # (B, n, H, W)
    return torch.cat([x, y], dim=1)


class _Block(nn.Module):
    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, blur: bool) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, mid_channels, 3)
        self.conv1_down = EqualizedConv2d(mid_channels, out_channels, 3, down=True)
        self.blur = blur
        # Built once, not per call; non-persistent, so state dicts keep the official files' keys.
        self.register_buffer("blur_filter", blur_kernel(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = F.leaky_relu(self.conv0(x), 0.2)
        x = _blur(x, self.blur_filter) if self.blur else x
        return F.leaky_relu(self.conv1_down(x), 0.2)


class _FinalBlock(nn.Module):
    def __init__(self, config: CelebAHQConfig) -> None:
        super().__init__()
        extra = config.mbstd_num_features if config.mbstd_group_size > 1 else 0
        self.conv = EqualizedConv2d(config.nf(1) + extra, config.nf(1), 3)
        self.dense0 = EqualizedLinear(config.nf(1) * 16, config.nf(0))
        self.dense1 = EqualizedLinear(config.nf(0), 1, gain=1.0)
        self.mbstd = (config.mbstd_group_size, config.mbstd_num_features)

    def features(self, x: Tensor) -> Tensor:
        """(B, nf(1), 4, 4) -> (B, nf(0))."""
        if self.mbstd[0] > 1:
            x = minibatch_stddev(x, *self.mbstd)
        x = F.leaky_relu(self.conv(x), 0.2)
        return F.leaky_relu(self.dense0(x.flatten(1)), 0.2)  # flatten in (C, H, W) order, as TF's NCHW reshape


class CelebAHQNetwork(nn.Module):
    """One attribute classifier: (B, 3, R, R) in [-1, 1] -> l (B, 1); p(attribute) = softmax([l, -l])[0]."""

    def __init__(self, config: CelebAHQConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or CelebAHQConfig()
        top = config.resolution_log2
        self.fromrgb = EqualizedConv2d(3, config.nf(top - 1), 1)
        self.block_names = []
        for res in range(top, 2, -1):  # 2^res = R ... 8
            name = f"b{2**res}"
            self.add_module(name, _Block(config.nf(res - 1), config.nf(res - 1), config.nf(res - 2), config.blur))
            self.block_names.append(name)
        self.b4 = _FinalBlock(config)

    def features(self, x: Tensor) -> Tensor:
        """(B, 3, R, R) -> dense0 activations (B, nf(0))."""
        x = F.leaky_relu(self.fromrgb(x), 0.2)
        for name in self.block_names:
            x = getattr(self, name)(x)
        return self.b4.features(x)  # (B, nf(0))

    def forward(self, x: Tensor) -> Tensor:
        return self.b4.dense1(self.features(x))  # (B, 1)


def config_from_state_dict(state: dict[str, Tensor], **settings: Any) -> CelebAHQConfig:
    """Infer resolution and widths of a CelebAHQNetwork from its state dict (``settings`` set the rest)."""
    if "fromrgb.weight" not in state or "b4.dense1.weight" not in state:
        raise ValueError("not a CelebA-HQ classifier state dict: no 'fromrgb.weight' or 'b4.dense1.weight'")
    sizes = [int(m.group(1)) for key in state if (m := re.match(r"^b(\d+)\.conv0\.weight$", key))]
    resolution = max(sizes) if sizes else 4
    widths = [int(t.shape[0]) for key, t in state.items() if key.endswith(".weight") and t.ndim >= 2]
    widths += [int(state["b4.dense0.weight"].shape[0])]
    fmap_max = max(w for w in widths if w > 1)
    top = round(math.log2(max(resolution, 8)))
    fmap_base = int(state["fromrgb.weight"].shape[0]) * 2 ** (top - 1)
    return CelebAHQConfig(resolution=resolution, fmap_base=fmap_base, fmap_max=fmap_max, **settings)


class CelebAHQClassifierSet(ClassifierSet):
    """Many CelebAHQNetworks, one per attribute, as one ClassifierSet.

    ``logits`` are 2 l, so that sigmoid(logit) = softmax([l, -l])[0] = p; ``raw_outputs`` gives l.
    ``features`` concatenates each network's dense0 activations: (B, A * nf(0)).
    Note the minibatch-stddev layer: as in the original, an image's score depends slightly on the
    other images of its group of ``mbstd_group_size``.
    """

    kind = "celebahq"

    def __init__(self, attribute_names: Sequence[str], networks: Sequence[CelebAHQNetwork]) -> None:
        if len(networks) != len(attribute_names):
            raise ValueError(f"{len(attribute_names)} attribute names but {len(networks)} networks")
        resolutions = {n.config.resolution for n in networks}
        if len(resolutions) != 1:
            raise ValueError(f"all networks must share one input resolution, got {sorted(resolutions)}")
        super().__init__(attribute_names, resolutions.pop())
        self.networks = nn.ModuleList(networks)
        self.networks.to(memory_format=torch.channels_last)

    @classmethod
    def from_config(cls, attribute_names: Sequence[str], architecture: dict[str, Any]) -> CelebAHQClassifierSet:
        configs = architecture.get("networks") or [architecture] * len(attribute_names)
        return cls(attribute_names, [CelebAHQNetwork(CelebAHQConfig.from_json(c)) for c in configs])

    def config(self) -> dict[str, Any]:
        configs = [n.config.to_json() for n in self.networks]
        if all(c == configs[0] for c in configs):
            return configs[0]
        return {"networks": configs}

    def _features(self, x: Tensor) -> Tensor:
        return torch.cat([network.features(x) for network in self.networks], dim=1)  # (B, A * nf(0))

    def _logits_from_features(self, features: Tensor) -> Tensor:
        parts = features.split([n.config.nf(0) for n in self.networks], dim=1)
        raw = torch.cat([n.b4.dense1(f) for n, f in zip(self.networks, parts, strict=True)], dim=1)  # (B, A)
        return 2.0 * raw

    def raw_outputs(self, images: Tensor) -> Tensor:
        """The networks' own outputs l (B, A): p = softmax([l, -l])[0]."""
        return self.logits(images) / 2.0


def find_celebahq_files(
    directory: str | Path, suffixes: tuple[str, ...] = STATE_DICT_SUFFIXES
) -> list[tuple[int, str, Path]]:
    """(index, slug, path) of every ``celebahq-classifier-NN-slug.SUFFIX`` in ``directory``, by index.

    Args:
        suffixes: file name endings without the dot: state dicts by default, ``("pkl",)`` for the
            official TensorFlow files.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _ANY_SUFFIX.match(path.name)
        if match and match.group(3) in suffixes and path.is_file():
            found.append((int(match.group(1)), match.group(2), path))
    return sorted(found)


def attribute_name_for_slug(slug: str) -> str:
    """'wavy-hair' -> 'Wavy_Hair' (CelebA's spelling for the 40 official slugs)."""
    table = dict(CELEBAHQ_CLASSIFIERS)
    return table.get(slug, "_".join(part.capitalize() for part in slug.split("-")))


def celebahq_file_name(index: int, slug: str, suffix: str = ".pt") -> str:
    return f"celebahq-classifier-{index:02d}-{slug}{suffix}"


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types on corrupt files
        raise UserError(f"{path} is not a readable PyTorch state dict ({type(error).__name__}: {error})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise UserError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return state


def load_celebahq_directory(directory: str | Path, device: str | torch.device = "cpu") -> CelebAHQClassifierSet:
    """Load every ``celebahq-classifier-NN-slug.pt`` state dict of ``directory`` as one ClassifierSet.

    An optional ``celebahq.json`` sets what the weights cannot tell: ``blur``, ``mbstd_group_size``,
    ``mbstd_num_features``, ``fmap_decay``.

    Raises:
        UserError: no such files, a duplicate index, an unreadable file or unexpected keys or shapes.
    """
    directory = Path(directory)
    files = find_celebahq_files(directory)
    if not files:
        raise UserError(f"{directory} holds no files named celebahq-classifier-NN-attribute.pt")
    indices = [index for index, _, _ in files]
    if len(set(indices)) != len(indices):
        raise UserError(f"{directory}: two classifier files share an index ({sorted(indices)})")
    settings: dict[str, Any] = {}
    if (directory / SETTINGS_FILE).is_file():
        try:
            settings = json.loads((directory / SETTINGS_FILE).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise UserError(f"{directory / SETTINGS_FILE} is not readable JSON ({error})") from None
    allowed = {"blur", "mbstd_group_size", "mbstd_num_features", "fmap_decay"}
    settings = {k: v for k, v in settings.items() if k in allowed}
    networks, names = [], []
    for _, slug, path in files:
        state = _read_state_dict(path)
        try:
            network = CelebAHQNetwork(config_from_state_dict(state, **settings))
            network.load_state_dict(state, strict=True)
        except (ValueError, RuntimeError) as error:
            detail = " ".join(str(error).split())[:300]
            raise UserError(f"{path} is not a CelebA-HQ classifier state dict with our key names: {detail}") from None
        networks.append(network)
        names.append(attribute_name_for_slug(slug))
    classifier = CelebAHQClassifierSet(names, networks)
    classifier.eval()
    return classifier.to(device)


def save_celebahq_directory(classifier: CelebAHQClassifierSet, directory: str | Path) -> Path:
    """Write each network as ``celebahq-classifier-NN-slug.pt`` (the layout ``load_celebahq_directory`` reads)."""
    from genomekit.fileio import atomic_path, write_json

    directory = Path(directory)
    slugs = {name: slug for slug, name in CELEBAHQ_CLASSIFIERS}
    for index, (name, network) in enumerate(zip(classifier.attribute_names, classifier.networks, strict=True)):
        slug = slugs.get(name, re.sub(r"[^0-9a-z]+", "-", name.lower()).strip("-"))
        with atomic_path(directory / celebahq_file_name(index, slug)) as tmp:
            torch.save({k: v.contiguous() for k, v in network.state_dict().items()}, tmp)
    first = classifier.networks[0].config
    write_json(
        directory / SETTINGS_FILE,
        {
            "blur": first.blur,
            "mbstd_group_size": first.mbstd_group_size,
            "mbstd_num_features": first.mbstd_num_features,
            "fmap_decay": first.fmap_decay,
        },
    )
    return directory
