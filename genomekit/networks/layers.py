"""Building blocks shared by the StyleGAN2 networks: equalised learning rate, modulated convolution,
low-pass resampling. Pure PyTorch, no compiled ops, so the same code runs on CPU and CUDA.

Equalised learning rate (ProGAN): weights are stored as N(0, 1) / lr_multiplier and scaled by
``lr_multiplier / sqrt(fan_in)`` at run time, so Adam's per-parameter steps are uniform across layers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LRELU_GAIN = math.sqrt(2)  # keeps activations' second moment through leaky ReLU(0.2)


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU with slope 0.2, scaled by sqrt(2) as in StyleGAN."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


def upsample2x(x: Tensor) -> Tensor:
    """2x up-sampling with the [1, 3, 3, 1] low-pass filter.

    Bilinear interpolation with half-pixel centres applies exactly the weights (3/4, 1/4) of StyleGAN2's
    [1, 3, 3, 1] up-sampling filter (borders replicate instead of zero-padding). Transposed convolutions
    left a visible checkerboard on CPU-sized models (see shared/FINDINGS.md).
    """
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def downsample2x(x: Tensor) -> Tensor:
    """2x down-sampling with the [1, 3, 3, 1] low-pass filter (separable 4x4 kernel, stride 2).

    Args:
        x: (B, C, H, W).
    Returns:
        (B, C, H/2, W/2).
    """
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=x.dtype, device=x.device)
    kernel = (taps[:, None] * taps[None, :]) / 64.0  # (4, 4), sums to 1
    channels = x.shape[1]
    weight = kernel.expand(channels, 1, 4, 4)
    x = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(x, weight, stride=2, groups=channels)


class EqualizedLinear(nn.Module):
    """Fully connected layer with equalised learning rate.

    Args:
        in_features: input size.
        out_features: output size.
        bias_init: initial bias value (1 for style affines, so modulation starts at identity).
        lr_multiplier: learning-rate multiplier (0.01 in the mapping network).
        activation: apply scaled leaky ReLU after the bias.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)) / lr_multiplier)
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return lrelu(x) if self.activation else x


class EqualizedConv2d(nn.Module):
    """Convolution with equalised learning rate, optional 2x down-sampling before it.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size (odd, 'same' padding).
        bias: learn a bias.
        activation: apply scaled leaky ReLU.
        down: low-pass down-sample the input 2x first (the convolution then runs at the lower resolution).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: bool = True,
        down: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.activation = activation
        self.down = down

    def forward(self, x: Tensor) -> Tensor:
        if self.down:
            x = downsample2x(x)
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)
        return lrelu(x) if self.activation else x


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True, padding: int = 1) -> Tensor:
    """StyleGAN2 modulated convolution, computed as scale -> shared conv -> rescale.

    Scaling the input channels by the styles and the output channels by the demodulation coefficients
    equals convolving each sample with its own modulated, demodulated kernel, but runs as one ordinary
    convolution over the batch (fast on CPU, channels-last friendly).

    Args:
        x: (B, I, H, W) input features.
        weight: (O, I, k, k) kernel, already multiplied by its equalised-lr gain.
        styles: (B, I) per-sample input-channel scales.
        demodulate: divide each output channel by the norm of its modulated kernel.
    Returns:
        (B, O, H, W).
    """
    batch, in_channels = styles.shape
    if x.shape[:2] != (batch, in_channels):
        raise ValueError(f"features {tuple(x.shape)} do not match styles {tuple(styles.shape)}")
    x = x * styles.reshape(batch, in_channels, 1, 1)
    x = F.conv2d(x, weight, padding=padding)
    if demodulate:
        # |w'_o|^2 = sum_i,k (w_oik * s_i)^2 = sum_i s_i^2 * sum_k w_oik^2
        weight_sq = weight.square().sum(dim=(2, 3))  # (O, I)
        dcoefs = (styles.square() @ weight_sq.T + 1e-8).rsqrt()  # (B, O)
        x = x * dcoefs.reshape(batch, -1, 1, 1)
    return x
