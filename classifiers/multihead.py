"""The multi-head attribute CNN: one shared convolutional backbone, one linear head with A logits.

Far cheaper than A separate networks: every attribute reads the same features. Shapes for the
default config at R = 64::

    stem      conv 3x3 /2        (B, 3, 64, 64)  -> (B, 32, 32, 32)
    stage 0   2 x conv 3x3       -> (B, 32, 32, 32)
    stage 1   conv /2 + conv     -> (B, 64, 16, 16)
    stage 2   conv /2 + conv     -> (B, 128, 8, 8)
    stage 3   conv /2 + conv     -> (B, 192, 4, 4)
    pool      mean over H, W     -> (B, 192)   = features F
    head      linear             -> (B, A)     logits

Every conv is followed by batch norm and ReLU; the second conv of a stage is residual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from classifiers.base import ClassifierSet


@dataclass(frozen=True, kw_only=True)
class MultiHeadConfig:
    """Architecture of the multi-head CNN."""

    resolution: int = 64  # R, input size; other sizes are resized to it
    stem_channels: int = 32  # channels of the stem conv
    stem_stride: int = 2  # 2: 3x3 conv with stride 2; 4: 4x4 patches with stride 4 (4x fewer FLOPs after it)
    channels: tuple[int, ...] = (32, 64, 128, 192)  # per stage; stages after the first halve H and W

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.resolution < 8:
            raise ValueError(f"resolution must be at least 8 pixels, got {self.resolution}")
        if self.stem_stride not in (2, 4):
            raise ValueError(f"stem stride must be 2 or 4, got {self.stem_stride}")
        if not self.channels or any(c < 1 for c in self.channels) or self.stem_channels < 1:
            raise ValueError(f"channels must be positive, got stem {self.stem_channels} and {self.channels}")
        if self.resolution // self.stem_stride // 2 ** (len(self.channels) - 1) < 1:
            raise ValueError(
                f"{len(self.channels)} stages halve a {self.resolution}-px image below one pixel; "
                "use fewer stages or a larger resolution"
            )

    @property
    def feature_width(self) -> int:
        return self.channels[-1]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MultiHeadConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "channels" in known:
            known["channels"] = tuple(known["channels"])
        return cls(**known)


def _conv_bn(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class _Stage(nn.Module):
    """conv (stride s) -> BN -> ReLU -> [conv -> BN] + skip -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv0 = _conv_bn(in_channels, out_channels, stride)
        self.conv1 = _conv_bn(out_channels, out_channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.conv0(x))
        return self.act(x + self.conv1(x))


class MultiHeadNetwork(nn.Module):
    """Backbone + linear head. Pure network: no resizing, no checks (see MultiHeadClassifierSet)."""

    def __init__(self, config: MultiHeadConfig, num_attributes: int) -> None:
        super().__init__()
        kernel, padding = (3, 1) if config.stem_stride == 2 else (4, 0)
        self.stem = nn.Sequential(
            nn.Conv2d(3, config.stem_channels, kernel, stride=config.stem_stride, padding=padding, bias=False),
            nn.BatchNorm2d(config.stem_channels),
            nn.ReLU(inplace=True),
        )
        stages, width = [], config.stem_channels
        for index, channels in enumerate(config.channels):
            stages.append(_Stage(width, channels, stride=1 if index == 0 else 2))
            width = channels
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(width, num_attributes)

    def features(self, x: Tensor) -> Tensor:
        """(B, 3, R, R) -> (B, F)."""
        x = self.stages(self.stem(x))  # (B, F, R / 2^S, R / 2^S)
        return x.mean(dim=(2, 3))  # (B, F)

    def head_logits(self, features: Tensor) -> Tensor:
        """(B, F) -> (B, A)."""
        return self.head(features)

    def forward(self, x: Tensor) -> Tensor:
        return self.head_logits(self.features(x))


def init_weights(network: MultiHeadNetwork, generator: torch.Generator) -> None:
    """He-normal convs, small-normal head, unit batch norms: all drawn from ``generator``."""
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu", generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.fill_(1.0)
                module.bias.zero_()
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.01, generator=generator)
                module.bias.zero_()
        for stage in network.stages:  # residual branches start near zero: each stage begins close to identity
            stage.conv1[1].weight.fill_(0.1)


class MultiHeadClassifierSet(ClassifierSet):
    """A ClassifierSet backed by one MultiHeadNetwork: p = sigmoid(head(backbone(x)))."""

    kind = "multihead"

    def __init__(
        self,
        attribute_names: Sequence[str],
        config: MultiHeadConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        """Args: generator: draws the initial weights (None: PyTorch's default initialisation)."""
        config = config or MultiHeadConfig()
        super().__init__(attribute_names, config.resolution)
        self.architecture = config
        self.network = MultiHeadNetwork(config, len(self.attribute_names))
        if generator is not None:
            init_weights(self.network, generator)
        self.network.to(memory_format=torch.channels_last)

    def config(self) -> dict[str, Any]:
        return self.architecture.to_json()

    def _features(self, x: Tensor) -> Tensor:
        return self.network.features(x)

    def _logits_from_features(self, features: Tensor) -> Tensor:
        return self.network.head_logits(features)
