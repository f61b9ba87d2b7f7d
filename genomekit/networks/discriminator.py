"""StyleGAN2 residual discriminator with minibatch standard deviation.

With ``network_version=2`` (the default) it is NVlabs' ``networks_stylegan2.Discriminator`` (architecture
'resnet', unconditional): down-sampling convolutions filter at full resolution and then run strided,
``conv_clamp`` and the float16 resolutions behave as there. Version 1 is genomekit 0.1's resampling.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genomekit.networks.layers import LATEST_NETWORK_VERSION, EqualizedConv2d, EqualizedLinear, check_network_version
from genomekit.networks.synthesis import block_channels, block_dtype, fp16_resolution


@dataclass(frozen=True, kw_only=True)
class DiscriminatorConfig:
    resolution: int = 64  # input resolution, a power of two >= 4
    img_channels: int = 3  # input channels
    channel_base: int = 2048  # feature maps are channel_base / resolution ...
    channel_max: int = 128  # ... capped at channel_max
    mbstd_group_size: int = 4  # samples per minibatch-stddev group
    mbstd_channels: int = 1  # stddev feature maps appended
    conv_clamp: float | None = None  # clamp convolution outputs to +-conv_clamp (NVlabs' configs: 256)
    num_fp16_res: int = 0  # blocks of this many highest resolutions run in float16 on CUDA (NVlabs: 4)
    network_version: int = LATEST_NETWORK_VERSION  # 2: NVlabs' StyleGAN2; 1: genomekit 0.1 resampling

    def __post_init__(self) -> None:
        # Each message starts with the offending field's name.
        if self.resolution < 4 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 4, got {self.resolution}")
        for name in ("img_channels", "channel_base", "channel_max", "mbstd_group_size", "mbstd_channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.conv_clamp is not None and self.conv_clamp <= 0:
            raise ValueError(f"conv_clamp must be positive or None, got {self.conv_clamp}")
        if self.num_fp16_res < 0:
            raise ValueError(f"num_fp16_res must be >= 0, got {self.num_fp16_res}")
        check_network_version(self.network_version)

    @classmethod
    def from_dict(cls, data: dict) -> DiscriminatorConfig:
        """A config saved by any genomekit version; one without ``network_version`` predates version 2."""
        return cls(**{"network_version": 1, **data})

    @classmethod
    def from_json(cls, text: str) -> DiscriminatorConfig:
        return cls.from_dict(json.loads(text))


class DiscriminatorBlock(nn.Module):
    """conv 3x3 -> down-sampling conv 3x3, plus a down-sampled 1x1 residual, scaled by sqrt(1/2)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        network_version: int = LATEST_NETWORK_VERSION,
    ) -> None:
        super().__init__()
        version = dict(network_version=network_version)
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, conv_clamp=conv_clamp, **version)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, down=True, conv_clamp=conv_clamp, **version)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, activation=False, down=True, **version)
        self.use_fp16 = use_fp16
        self.network_version = network_version

    def forward(self, x: Tensor) -> Tensor:
        """(B, I, R, R) -> (B, O, R/2, R/2)."""
        if self.network_version == 1:
            return (self.skip(x) + self.conv1(self.conv0(x))) * math.sqrt(0.5)
        gain = math.sqrt(0.5)
        return self.skip(x, gain=gain) + self.conv1(self.conv0(x), gain=gain)


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
        version = dict(network_version=config.network_version)
        clamp = config.conv_clamp
        lowest_fp16 = fp16_resolution(config.resolution, config.num_fp16_res)
        self.fromrgb = EqualizedConv2d(config.img_channels, ch(res), 1, conv_clamp=clamp, **version)
        blocks = []
        while res > 4:
            use_fp16 = config.num_fp16_res > 0 and res >= lowest_fp16
            blocks.append(DiscriminatorBlock(ch(res), ch(res // 2), clamp, use_fp16, **version))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = ch(4)
        self.conv = EqualizedConv2d(c4 + config.mbstd_channels, c4, 3, conv_clamp=clamp, **version)
        self.fc = EqualizedLinear(c4 * 16, c4, activation=True)
        self.out = EqualizedLinear(c4, 1)

    def forward(self, images: Tensor, force_fp32: bool = False) -> Tensor:
        cfg = self.config
        expected = (cfg.img_channels, cfg.resolution, cfg.resolution)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"discriminator expects images (B, {', '.join(map(str, expected))}), got {tuple(images.shape)}"
            )
        first = self.blocks[0] if len(self.blocks) else None
        x = images.to(block_dtype(first is not None and first.use_fp16, images.device, force_fp32))
        x = self.fromrgb(x)
        for block in self.blocks:
            x = block(x.to(block_dtype(block.use_fp16, images.device, force_fp32)))
        x = x.float()  # (B, C4, 4, 4); the epilogue runs in float32
        x = minibatch_stddev(x, cfg.mbstd_group_size, cfg.mbstd_channels)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        return self.out(x)  # (B, 1)
