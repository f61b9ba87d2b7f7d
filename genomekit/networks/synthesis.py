"""StyleGAN2 synthesis network (skip architecture) in pure PyTorch.

From a learned 4x4 constant, each block doubles the resolution with two modulated 3x3 convolutions
(weight demodulation, per-pixel noise with learned strength) and adds its toRGB output to the
up-sampled image of the block before (skip connections). With ``network_version=2`` (the default) it
is NVlabs' ``networks_stylegan2.SynthesisNetwork`` (architecture 'skip'): the same weights give the same
images; version 1 is genomekit 0.1's resampling (see ``genomekit.networks.layers``).

Mixed precision as NVlabs: the blocks of the ``num_fp16_res`` highest resolutions (never below 8 px)
run in float16 when the input is on CUDA, float32 elsewhere or with ``force_fp32``; ``conv_clamp`` clamps
every convolution's output (256 in NVlabs' configs) so float16 cannot overflow. Under autocast
(``--precision bf16`` or ``fp16``) the convolutions run in the autocast dtype while the styles and the
demodulation coefficients stay float32 (``style_affine``, ``demodulation_coefficients``), as in NVlabs'
float16 blocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genomekit.networks.layers import (
    LATEST_NETWORK_VERSION,
    EqualizedLinear,
    bias_act,
    check_network_version,
    fir_filter,
    legacy_upsample2x,
    modulated_conv2d,
    style_affine,
    upsample2d,
)

NOISE_MODES = ("random", "const", "none")


def block_channels(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at ``resolution``: ``min(channel_base // resolution, channel_max)``, as in StyleGAN2."""
    return max(1, min(channel_base // resolution, channel_max))


def fp16_resolution(img_resolution: int, num_fp16_res: int) -> int:
    """Lowest resolution that runs in float16: the ``num_fp16_res`` highest ones, never below 8 (NVlabs)."""
    return max(2 ** (int(math.log2(img_resolution)) + 1 - num_fp16_res), 8)


def block_dtype(use_fp16: bool, device: torch.device, force_fp32: bool) -> torch.dtype:
    """float16 only for a float16 block on CUDA, as NVlabs' blocks decide."""
    return torch.float16 if use_fp16 and device.type == "cuda" and not force_fp32 else torch.float32


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution + noise + bias + leaky ReLU, optionally up-sampling 2x.

    Args:
        in_channels: input feature maps.
        out_channels: output feature maps.
        w_dim: latent size.
        resolution: output resolution (for the constant noise map).
        up: up-sample 2x (version 2: transposed conv + FIR; version 1: bilinear, then the conv).
        use_noise: add per-pixel noise scaled by a learned strength.
        conv_clamp: clamp the output to +-conv_clamp, None = off.
        network_version: resampling semantics (1 or 2).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        up: bool,
        use_noise: bool,
        conv_clamp: float | None = None,
        network_version: int = LATEST_NETWORK_VERSION,
    ) -> None:
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.weight_gain = 1 / math.sqrt(in_channels * 9)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.up = up
        self.use_noise = use_noise
        self.resolution = resolution
        self.conv_clamp = conv_clamp
        self.network_version = check_network_version(network_version)
        self.register_buffer("resample_filter", fir_filter(), persistent=False)
        if use_noise:
            self.noise_strength = nn.Parameter(torch.zeros([]))
            self.register_buffer("noise_const", torch.randn(resolution, resolution))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str, noise: Tensor | None = None) -> Tensor:
        """Features of one layer.

        Args:
            x: (B, I, H, W) features.
            w: (B, w_dim) float32 latent.
            noise_mode: "random" adds ``noise``, "const" the stored map, "none" nothing.
            noise: (B, 1, R, R) float32 standard normal map, required for "random" (the synthesis network
                draws it up front, see ``SynthesisNetwork.draw_noise``).
        Returns:
            (B, O, R, R) in x's dtype.
        """
        styles = style_affine(self.affine, w)  # (B, I) float32, also under autocast
        weight = self.weight * self.weight_gain
        if self.up and self.network_version == 1:
            x = legacy_upsample2x(x)
        up = 2 if self.up and self.network_version == 2 else 1
        x = modulated_conv2d(x, weight, styles, demodulate=True, up=up, resample_filter=self.resample_filter)
        if self.use_noise and noise_mode != "none":
            if noise_mode == "random":
                if noise is None:
                    raise ValueError("noise_mode='random' needs a noise map (B, 1, R, R)")
                noise = noise.to(x.device)
            else:
                noise = self.noise_const
            x = x + (noise * self.noise_strength).to(x.dtype)
        return bias_act(x, self.bias, activation=True, clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """Modulated 1x1 convolution to image channels, without demodulation or activation."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(img_channels, in_channels, 1, 1))
        self.weight_gain = 1 / math.sqrt(in_channels)
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.conv_clamp = conv_clamp

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = style_affine(self.affine, w) * self.weight_gain  # (B, I) float32, also under autocast
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, padding=0)
        return bias_act(x, self.bias, activation=False, clamp=self.conv_clamp)


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
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        network_version: int = LATEST_NETWORK_VERSION,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.use_fp16 = use_fp16
        self.network_version = network_version
        layer = dict(w_dim=w_dim, resolution=resolution, use_noise=use_noise, conv_clamp=conv_clamp)
        if resolution == 4:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
            self.conv0 = None
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=True, network_version=network_version, **layer)
        self.conv1 = SynthesisLayer(out_channels, out_channels, up=False, network_version=network_version, **layer)
        self.torgb = ToRGB(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.register_buffer("resample_filter", fir_filter(), persistent=False)
        self.num_conv = 1 if resolution == 4 else 2

    def forward(
        self,
        x: Tensor | None,
        img: Tensor | None,
        ws: Tensor,
        noise_mode: str,
        noise: Sequence[Tensor] | None = None,
        force_fp32: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """One block.

        Args:
            x: (B, I, R/2, R/2) features of the block before, None for the 4 px block.
            img: (B, C, R/2, R/2) float32 image so far, None for the 4 px block.
            ws: (B, num_conv + 1, w_dim) float32 latents of this block's convolutions and toRGB.
            noise: with noise_mode "random", num_conv maps (B, 1, R, R), one per convolution in order.
        Returns:
            features (B, O, R, R) and image (B, C, R, R) float32.
        """
        dtype = block_dtype(self.use_fp16, ws.device, force_fp32)
        noise0, noise1 = (None, None) if noise is None else ((None, *noise) if self.conv0 is None else tuple(noise))
        if self.conv0 is None:
            x = self.const.to(dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = self.conv1(x.contiguous(memory_format=torch.channels_last), ws[:, 0], noise_mode, noise1)
        else:
            x = self.conv0(x.to(dtype), ws[:, 0], noise_mode, noise0)
            x = self.conv1(x, ws[:, 1], noise_mode, noise1)
        rgb = self.torgb(x, ws[:, self.num_conv]).float()
        if img is None:
            img = rgb
        elif self.network_version == 1:
            img = legacy_upsample2x(img) + rgb
        else:
            img = upsample2d(img, self.resample_filter) + rgb
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
        conv_clamp: clamp every convolution's output to +-conv_clamp (NVlabs: 256), None = off.
        num_fp16_res: the blocks of this many highest resolutions run in float16 on CUDA.
        network_version: 2 = NVlabs' StyleGAN2, 1 = genomekit 0.1's resampling.
    """

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 2048,
        channel_max: int = 128,
        use_noise: bool = True,
        conv_clamp: float | None = None,
        num_fp16_res: int = 0,
        network_version: int = LATEST_NETWORK_VERSION,
    ) -> None:
        super().__init__()
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"image resolution must be a power of two >= 4, got {img_resolution}")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        resolutions = [2**i for i in range(2, int(math.log2(img_resolution)) + 1)]
        lowest_fp16 = fp16_resolution(img_resolution, num_fp16_res)
        blocks = []
        for res in resolutions:
            in_ch = block_channels(res // 2, channel_base, channel_max) if res > 4 else 0
            out_ch = block_channels(res, channel_base, channel_max)
            use_fp16 = num_fp16_res > 0 and res >= lowest_fp16
            blocks.append(
                SynthesisBlock(
                    in_ch, out_ch, w_dim, res, img_channels, use_noise, conv_clamp, use_fp16, network_version
                )
            )
        self.blocks = nn.ModuleList(blocks)
        self.use_noise = use_noise
        # Each block consumes one w per conv plus one for its toRGB, which overlaps the next block's first.
        self.num_ws = sum(b.num_conv for b in blocks) + 1

    @property
    def num_noise_maps(self) -> int:
        """How many noise maps a "random" forward pass takes: one per convolution, none without noise."""
        return sum(block.num_conv for block in self.blocks) if self.use_noise else 0

    def draw_noise(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> list[Tensor]:
        """The per-pixel noise of one "random" forward pass, drawn before it (for ``forward(noise=...)``).

        The maps are drawn in the order the layers use them, on the generator's device (``device`` when
        None), then moved to ``device``: exactly the numbers ``forward(noise_mode="random",
        generator=generator)`` draws, so seeded results are the same either way. A compiled forward
        takes these maps, because ``torch.compile`` cannot trace a draw from a ``torch.Generator``.

        Args:
            batch_size: B.
            device: where the maps go; None = this network's device.
        Returns:
            ``num_noise_maps`` float32 tensors (B, 1, R, R), R the resolution of each convolution.
        """
        if not self.use_noise:
            return []
        device = torch.device(device) if device is not None else self.blocks[0].torgb.weight.device
        draw_device = generator.device if generator is not None else device
        maps = []
        for block in self.blocks:
            for _ in range(block.num_conv):
                res = block.resolution
                maps.append(torch.randn(batch_size, 1, res, res, generator=generator, device=draw_device).to(device))
        return maps

    def forward(
        self,
        ws: Tensor,
        noise_mode: str = "const",
        generator: torch.Generator | None = None,
        force_fp32: bool = False,
        noise: Sequence[Tensor] | None = None,
    ) -> Tensor:
        """Per-layer latents to images.

        Args:
            ws: (B, num_ws, w_dim) latents.
            noise_mode: "const" (the stored maps: an image depends on its latents alone), "random" (fresh
                maps: ``noise``, else drawn from ``generator``) or "none".
            generator: draws the "random" noise when ``noise`` is None.
            force_fp32: run the float16 blocks in float32 on CUDA.
            noise: the "random" maps drawn up front by ``draw_noise`` (the compiled path), instead of
                ``generator``: ``num_noise_maps`` tensors (B, 1, R, R).
        Returns:
            images (B, C, R, R) float32, roughly in [-1, 1].
        """
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape (B, {self.num_ws}, {self.w_dim}), got {tuple(ws.shape)}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        batch = ws.shape[0]
        if noise is not None:
            self._check_noise(noise, noise_mode, generator, batch)
        elif noise_mode == "random" and self.use_noise:
            noise = self.draw_noise(batch, generator, ws.device)
        ws = ws.float()
        x = img = None
        index = 0
        for block in self.blocks:
            block_noise = None
            if noise is not None and self.use_noise:
                block_noise = noise[index : index + block.num_conv]  # the maps of this block's convolutions
            x, img = block(x, img, ws[:, index : index + block.num_conv + 1], noise_mode, block_noise, force_fp32)
            index += block.num_conv
        return img

    def _check_noise(
        self, noise: Sequence[Tensor], noise_mode: str, generator: torch.Generator | None, batch: int
    ) -> None:
        if noise_mode != "random":
            raise ValueError(f"noise maps are used with noise_mode='random' only, got noise_mode={noise_mode!r}")
        if generator is not None:
            raise ValueError("pass noise maps or a generator to draw them, not both")
        maps = [block.resolution for block in self.blocks for _ in range(block.num_conv)] if self.use_noise else []
        expected = [(batch, 1, res, res) for res in maps]
        shapes = [tuple(n.shape) for n in noise]
        if shapes != expected:
            raise ValueError(f"noise must be {len(expected)} maps of shapes {expected} (draw_noise), got {shapes}")
