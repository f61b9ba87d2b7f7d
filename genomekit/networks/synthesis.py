"""StyleGAN2 synthesis network (skip architecture) in pure PyTorch.

From a learned 4x4 constant, each block doubles the resolution with two modulated 3x3 convolutions
(weight demodulation, per-pixel noise with learned strength) and adds its toRGB output to the
up-sampled image of the block before (skip connections).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genomekit.networks.layers import EqualizedLinear, lrelu, modulated_conv2d, upsample2x

NOISE_MODES = ("random", "const", "none")


def block_channels(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at ``resolution``: ``min(channel_base // resolution, channel_max)``, as in StyleGAN2."""
    return max(1, min(channel_base // resolution, channel_max))


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution + noise + bias + leaky ReLU, optionally after 2x up-sampling.

    Args:
        in_channels: input feature maps.
        out_channels: output feature maps.
        w_dim: latent size.
        resolution: output resolution (for the constant noise map).
        up: up-sample 2x before the convolution.
        use_noise: add per-pixel noise scaled by a learned strength.
    """

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool, use_noise: bool
    ) -> None:
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.weight_gain = 1 / math.sqrt(in_channels * 9)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.up = up
        self.use_noise = use_noise
        self.resolution = resolution
        if use_noise:
            self.noise_strength = nn.Parameter(torch.zeros([]))
            self.register_buffer("noise_const", torch.randn(resolution, resolution))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str, generator: torch.Generator | None) -> Tensor:
        """x: (B, I, H, W), w: (B, w_dim) -> (B, O, R, R)."""
        styles = self.affine(w)  # (B, I)
        if self.up:
            x = upsample2x(x)
        x = modulated_conv2d(x, self.weight * self.weight_gain, styles, demodulate=True)
        if self.use_noise and noise_mode != "none":
            if noise_mode == "random":
                device = generator.device if generator is not None else x.device
                noise = torch.randn(
                    x.shape[0], 1, self.resolution, self.resolution, generator=generator, device=device
                ).to(x.device)
            else:
                noise = self.noise_const
            x = x + noise * self.noise_strength
        return lrelu(x + self.bias.reshape(1, -1, 1, 1))


class ToRGB(nn.Module):
    """Modulated 1x1 convolution to image channels, without demodulation or activation."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.weight_gain = 1 / math.sqrt(in_channels)
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w) * self.weight_gain  # (B, I)
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, padding=0)
        return x + self.bias.reshape(1, -1, 1, 1)


class SynthesisBlock(nn.Module):
    """One resolution: (const or up-sampling conv) -> conv -> toRGB, with a skip image path."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        use_noise: bool,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        if resolution == 4:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
            self.conv0 = None
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, use_noise=use_noise)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, up=False, use_noise=use_noise)
        self.torgb = ToRGB(out_channels, img_channels, w_dim)
        self.num_conv = 1 if resolution == 4 else 2

    def forward(
        self,
        x: Tensor | None,
        img: Tensor | None,
        ws: Tensor,
        noise_mode: str,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Tensor]:
        """ws: (B, num_conv + 1, w_dim); returns features (B, O, R, R) and image (B, C, R, R)."""
        if self.conv0 is None:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1).contiguous(memory_format=torch.channels_last)
            x = self.conv1(x, ws[:, 0], noise_mode, generator)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode, generator)
            x = self.conv1(x, ws[:, 1], noise_mode, generator)
        rgb = self.torgb(x, ws[:, self.num_conv])
        img = rgb if img is None else upsample2x(img) + rgb
        return x, img


class SynthesisNetwork(nn.Module):
    """Per-layer latents ``ws`` (B, num_ws, w_dim) to images (B, C, R, R).

    Args:
        w_dim: latent size.
        img_resolution: output resolution, a power of two >= 4.
        img_channels: output channels (3 for RGB).
        channel_base: feature maps scale as channel_base / resolution ...
        channel_max: ... capped at channel_max.
        use_noise: per-pixel noise inputs.
    """

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 2048,
        channel_max: int = 128,
        use_noise: bool = True,
    ) -> None:
        super().__init__()
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"image resolution must be a power of two >= 4, got {img_resolution}")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        resolutions = [2**i for i in range(2, int(math.log2(img_resolution)) + 1)]
        blocks = []
        for res in resolutions:
            in_ch = block_channels(res // 2, channel_base, channel_max) if res > 4 else 0
            out_ch = block_channels(res, channel_base, channel_max)
            blocks.append(SynthesisBlock(in_ch, out_ch, w_dim, res, img_channels, use_noise))
        self.blocks = nn.ModuleList(blocks)
        # Each block consumes one w per conv plus one for its toRGB, which overlaps the next block's first.
        self.num_ws = sum(b.num_conv for b in blocks) + 1

    def forward(self, ws: Tensor, noise_mode: str = "const", generator: torch.Generator | None = None) -> Tensor:
        """ws: (B, num_ws, w_dim) -> images (B, C, R, R), roughly in [-1, 1]."""
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape (B, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        x = img = None
        index = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, index : index + block.num_conv + 1], noise_mode, generator)
            index += block.num_conv
        return img
