"""StyleGAN2 residual discriminator with minibatch standard deviation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genomekit.networks.layers import EqualizedConv2d, EqualizedLinear
from genomekit.networks.synthesis import block_channels


@dataclass(frozen=True, kw_only=True)
class DiscriminatorConfig:
    resolution: int = 64  # input resolution, a power of two >= 4
    img_channels: int = 3  # input channels
    channel_base: int = 2048  # feature maps are channel_base / resolution ...
    channel_max: int = 128  # ... capped at channel_max
    mbstd_group_size: int = 4  # samples per minibatch-stddev group
    mbstd_channels: int = 1  # stddev feature maps appended

    def __post_init__(self) -> None:
        if self.resolution < 4 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 4, got {self.resolution}")
        if self.channel_base < 1 or self.channel_max < 1:
            raise ValueError("channel_base and channel_max must be positive")


class DiscriminatorBlock(nn.Module):
    """conv 3x3 -> down-sample + conv 3x3, plus a down-sampled 1x1 residual, scaled by sqrt(1/2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, activation=False, down=True)

    def forward(self, x: Tensor) -> Tensor:
        """(B, I, R, R) -> (B, O, R/2, R/2)."""
        return (self.skip(x) + self.conv1(self.conv0(x))) * math.sqrt(0.5)


def minibatch_stddev(x: Tensor, group_size: int, num_channels: int) -> Tensor:
    """Append the standard deviation across groups of samples as extra feature maps.

    Args:
        x: (B, C, H, W); B must be divisible by the group size actually used.
    Returns:
        (B, C + num_channels, H, W).
    """
    batch, channels, height, width = x.shape
    group = min(group_size, batch)
    if batch % group:
        group = math.gcd(batch, group)
    f = num_channels
    y = x.reshape(group, -1, f, channels // f, height, width)  # (G, M, F, c, H, W)
    y = y - y.mean(dim=0)
    y = (y.square().mean(dim=0) + 1e-8).sqrt()  # (M, F, c, H, W)
    y = y.mean(dim=(2, 3, 4))  # (M, F)
    y = y.reshape(-1, f, 1, 1).repeat(group, 1, height, width)  # (B, F, H, W)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    """Images (B, C, R, R) in [-1, 1] -> realness logits (B, 1)."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        res = config.resolution
        ch = lambda r: block_channels(r, config.channel_base, config.channel_max)  # noqa: E731
        self.fromrgb = EqualizedConv2d(config.img_channels, ch(res), 1)
        blocks = []
        while res > 4:
            blocks.append(DiscriminatorBlock(ch(res), ch(res // 2)))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = ch(4)
        self.conv = EqualizedConv2d(c4 + config.mbstd_channels, c4, 3)
        self.fc = EqualizedLinear(c4 * 16, c4, activation=True)
        self.out = EqualizedLinear(c4, 1)

    def forward(self, images: Tensor) -> Tensor:
        cfg = self.config
        expected = (cfg.img_channels, cfg.resolution, cfg.resolution)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"discriminator expects images (B, {', '.join(map(str, expected))}), got {tuple(images.shape)}"
            )
        x = self.fromrgb(images)
        x = self.blocks(x)  # (B, C4, 4, 4)
        x = minibatch_stddev(x, cfg.mbstd_group_size, cfg.mbstd_channels)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        return self.out(x)  # (B, 1)
