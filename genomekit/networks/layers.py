"""Building blocks shared by the StyleGAN2 networks: equalised learning rate, modulated convolution,
FIR resampling, bias + activation with clamping. Pure PyTorch, no compiled ops, so the same code runs
on CPU and CUDA.

Equalised learning rate (ProGAN): weights are stored as N(0, 1) / lr_multiplier and scaled by
``lr_multiplier / sqrt(fan_in)`` at run time, so Adam's per-parameter steps are uniform across layers.

Two network versions (``NETWORK_VERSIONS``) differ only in how features are resampled:

* version 2, NVlabs' StyleGAN2 (``conv2d_resample`` and ``upfirdn2d`` of the stylegan2-ada-pytorch and
  stylegan3 repositories): an up-sampling 3x3 convolution is a stride-2 transposed convolution followed
  by the [1, 3, 3, 1] FIR filter with zero padding; the skip image is up-sampled by zero insertion and
  the same filter; a down-sampling convolution filters at full resolution (zero padding) and then runs
  strided. An NVlabs network with its weights copied in computes the same images and logits.
* version 1, genomekit 0.1: bilinear up-sampling with replicated edges before a 3x3 convolution at the
  doubled resolution, and replicated-edge down-sampling before D's convolutions. Kept so that
  checkpoints written by genomekit 0.1 (the first shipped models among them) give the images they gave.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LRELU_GAIN = math.sqrt(2)  # keeps activations' second moment through leaky ReLU(0.2)
NETWORK_VERSIONS = (1, 2)  # 1: genomekit 0.1 resampling; 2: NVlabs' StyleGAN2 (see the module docstring)
LATEST_NETWORK_VERSION = 2
FIR_TAPS = (1.0, 3.0, 3.0, 1.0)  # StyleGAN2's resampling filter


def check_network_version(version: int) -> int:
    if version not in NETWORK_VERSIONS:
        raise ValueError(
            f"network_version must be one of {', '.join(map(str, NETWORK_VERSIONS))} "
            f"(network version 1: genomekit 0.1's resampling, 2: NVlabs' StyleGAN2), got {version!r}"
        )
    return version


def fir_filter(taps: tuple[float, ...] = FIR_TAPS) -> Tensor:
    """The separable 2-D low-pass filter ``outer(taps, taps)``, normalised to sum 1: (k, k) float32."""
    t = torch.tensor(taps, dtype=torch.float32)
    f = t[:, None] * t[None, :]
    return f / f.sum()


def bias_act(x: Tensor, bias: Tensor | None, activation: bool, gain: float = 1.0, clamp: float | None = None) -> Tensor:
    """``clamp(act(x + bias) * gain, -clamp, clamp)``, NVlabs' ``bias_act`` order.

    Args:
        x: (B, C, H, W) or (B, C).
        bias: (C,) or None.
        activation: leaky ReLU(0.2) scaled by sqrt(2) (the gain multiplies that), else linear.
        clamp: clamp the output to +-clamp (NVlabs' ``conv_clamp`` times the layer gain), None = off.
    """
    if bias is not None:
        x = x + bias.to(x.dtype).reshape(1, -1, *([1] * (x.ndim - 2)))
    if activation:
        x = F.leaky_relu(x, 0.2)
        gain = gain * LRELU_GAIN
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU with slope 0.2, scaled by sqrt(2) as in StyleGAN."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


def upfirdn2d(
    x: Tensor, f: Tensor, up: int = 1, down: int = 1, padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1
) -> Tensor:
    """Up-sample by zero insertion, pad (negative = crop), convolve with the FIR filter, keep every ``down``-th pixel.

    The semantics of NVlabs' ``upfirdn2d`` (``flip_filter=False``: a true convolution), written with plain
    PyTorch ops.

    Args:
        x: (B, C, H, W).
        f: (kh, kw) float32 filter.
        padding: (left, right, top, bottom) in up-sampled pixels.
        gain: multiplies the filter (``up ** 2`` keeps the mean after zero insertion).
    Returns:
        (B, C, (H * up + top + bottom - kh + 1) // down, ...) rounded up, as NVlabs.
    """
    batch, channels, height, width = x.shape
    if up > 1:
        x = x.reshape(batch, channels, height, 1, width, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))  # a zero after every pixel, in both directions
        x = x.reshape(batch, channels, height * up, width * up)
    left, right, top, bottom = padding
    x = F.pad(x, (max(left, 0), max(right, 0), max(top, 0), max(bottom, 0)))
    x = x[:, :, max(-top, 0) : x.shape[2] - max(-bottom, 0), max(-left, 0) : x.shape[3] - max(-right, 0)]
    kernel = (f * gain).flip((0, 1)).to(x.dtype)  # flipped: conv2d correlates, the FIR convolves
    kernel = kernel[None, None].expand(channels, 1, *f.shape)
    x = F.conv2d(x, kernel, groups=channels)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample2d(x: Tensor, f: Tensor) -> Tensor:
    """2x FIR up-sampling of the skip image (NVlabs' ``upfirdn2d.upsample2d``): (B, C, H, W) -> (B, C, 2H, 2W)."""
    k = f.shape[0]
    p0, p1 = (k + 1) // 2, (k - 2) // 2
    return upfirdn2d(x, f, up=2, padding=(p0, p1, p0, p1), gain=4)


def conv2d_resample(x: Tensor, weight: Tensor, f: Tensor, up: int = 1, down: int = 1, padding: int = 0) -> Tensor:
    """Convolution with optional 2x up- or down-sampling, NVlabs' ``conv2d_resample`` paths.

    * up: stride-2 transposed convolution with the kernel as stored (NVlabs calls this ``flip_weight=False``),
      then the FIR filter (gain 4);
    * down, 1x1 kernel: FIR filter and decimate, then the 1x1 convolution;
    * down, larger kernel: FIR filter at full resolution, then a stride-2 convolution;
    * neither: a plain convolution with ``padding``.

    Args:
        x: (B, I, H, W).
        weight: (O, I, k, k), already multiplied by its gain.
        f: (4, 4) FIR filter.
        padding: the kernel's 'same' padding (k // 2).
    """
    k = weight.shape[-1]
    fk = f.shape[-1]
    if up > 1:
        if down > 1:
            raise ValueError("up- and down-sampling at once is not supported")
        # Padding with respect to the up-sampled image, as NVlabs computes it, less what the transposed
        # convolution already adds (k - 1 before, k - up after).
        p0 = padding + (fk + up - 1) // 2 - (k - 1)
        p1 = padding + (fk - up) // 2 - (k - up)
        x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=up)
        return upfirdn2d(x, f, padding=(p0, p1, p0, p1), gain=up**2)
    if down > 1:
        p0 = padding + (fk - down + 1) // 2
        p1 = padding + (fk - down) // 2
        if k == 1:
            x = upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))
            return F.conv2d(x, weight)
        x = upfirdn2d(x, f, padding=(p0, p1, p0, p1))
        return F.conv2d(x, weight, stride=down)
    return F.conv2d(x, weight, padding=padding)


def legacy_upsample2x(x: Tensor) -> Tensor:
    """Version-1 2x up-sampling: bilinear with half-pixel centres (the (3/4, 1/4) weights of [1, 3, 3, 1],
    replicated borders)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def legacy_downsample2x(x: Tensor, f: Tensor | None = None) -> Tensor:
    """Version-1 2x down-sampling: [1, 3, 3, 1] filter with replicated borders, stride 2.

    Args:
        x: (B, C, H, W).
        f: the (4, 4) ``fir_filter()``; layers pass their buffer, so no tensor is built per call.
    Returns:
        (B, C, H/2, W/2).
    """
    kernel = (fir_filter() if f is None else f).to(x.device, x.dtype)  # (4, 4), sums to 1
    weight = kernel.expand(x.shape[1], 1, 4, 4)
    x = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(x, weight, stride=2, groups=x.shape[1])


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
        x = F.linear(x, self.weight.to(x.dtype) * self.weight_gain, self.bias.to(x.dtype) * self.bias_gain)
        return lrelu(x) if self.activation else x


def style_affine(affine: EqualizedLinear, w: Tensor) -> Tensor:
    """A layer's styles ``affine(w)``, in float32 also under autocast.

    The styles scale the features and enter the demodulation squared; NVlabs' float16 blocks keep them
    in float32 too. Autocast would round them to bfloat16 (3 digits) or float16 before either use.

    Args:
        affine: the layer's style affine (w_dim -> I).
        w: (B, w_dim) latent.
    Returns:
        (B, I) float32.
    """
    with torch.autocast(device_type=w.device.type, enabled=False):
        return affine(w.float())


class EqualizedConv2d(nn.Module):
    """Convolution with equalised learning rate, optional 2x down-sampling, bias, activation and clamping.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size (odd, 'same' padding).
        bias: learn a bias.
        activation: apply scaled leaky ReLU.
        down: 2x down-sampling (version 2: FIR filter, then a strided conv; version 1: down-sample first).
        conv_clamp: clamp the output to +-conv_clamp (times the call's gain), None = off.
        network_version: resampling semantics, see the module docstring.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: bool = True,
        down: bool = False,
        conv_clamp: float | None = None,
        network_version: int = LATEST_NETWORK_VERSION,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.activation = activation
        self.down = down
        self.conv_clamp = conv_clamp
        self.network_version = check_network_version(network_version)
        self.register_buffer("resample_filter", fir_filter(), persistent=False)

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        weight = (self.weight * self.weight_gain).to(x.dtype)
        if self.network_version == 1:  # genomekit 0.1, computed exactly as it was
            if self.down:
                x = legacy_downsample2x(x, self.resample_filter)
            x = F.conv2d(x, weight, self.bias, padding=self.padding)
            return lrelu(x) if self.activation else x
        else:
            x = conv2d_resample(x, weight, self.resample_filter, down=2 if self.down else 1, padding=self.padding)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, self.activation, gain=gain, clamp=clamp)


def modulated_conv2d(
    x: Tensor,
    weight: Tensor,
    styles: Tensor,
    demodulate: bool = True,
    padding: int = 1,
    up: int = 1,
    resample_filter: Tensor | None = None,
) -> Tensor:
    """StyleGAN2 modulated convolution, computed as scale -> shared conv -> rescale.

    Scaling the input channels by the styles and the output channels by the demodulation coefficients
    equals convolving each sample with its own modulated, demodulated kernel, but runs as one ordinary
    convolution over the batch (NVlabs' ``fused_modconv=False``; fast on CPU, channels-last friendly).
    In float16 the weight and styles are first normalised by their largest entries, as NVlabs does, so
    the products cannot overflow; demodulation removes the scale again.

    Args:
        x: (B, I, H, W) input features.
        weight: (O, I, k, k) kernel, already multiplied by its equalised-lr gain.
        styles: (B, I) per-sample input-channel scales (float32: ``style_affine``).
        demodulate: divide each output channel by the norm of its modulated kernel.
        up: 2 for the version-2 up-sampling convolution (transposed conv + FIR, ``resample_filter``).
    Returns:
        (B, O, H * up, W * up).
    """
    batch, in_channels = styles.shape
    if x.shape[:2] != (batch, in_channels):
        raise ValueError(f"features {tuple(x.shape)} do not match styles {tuple(styles.shape)}")
    if x.dtype == torch.float16 and demodulate:
        weight = weight * (1 / math.sqrt(weight[0].numel()) / weight.norm(float("inf"), dim=(1, 2, 3), keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    x = x * styles.to(x.dtype).reshape(batch, in_channels, 1, 1)
    if up > 1:
        x = conv2d_resample(x, weight.to(x.dtype), resample_filter, up=up, padding=padding)
    else:
        x = F.conv2d(x, weight.to(x.dtype), padding=padding)
    if demodulate:
        dcoefs = demodulation_coefficients(weight, styles)  # (B, O) float32
        x = x * dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
    return x


def demodulation_coefficients(weight: Tensor, styles: Tensor) -> Tensor:
    """``1 / |modulated kernel|`` per sample and output channel, in float32 also under autocast.

    ``|w'_o|^2 = sum_i,k (w_oik * s_i)^2 = sum_i s_i^2 * sum_k w_oik^2``. Autocast would run the product
    in bfloat16 or float16: the sum of ``I`` squares rounded to 3 digits (bfloat16) or past float16's
    range for large styles, an error that every output channel's scale would carry.

    Args:
        weight: (O, I, k, k) kernel.
        styles: (B, I) per-sample input-channel scales.
    Returns:
        (B, O) float32.
    """
    with torch.autocast(device_type=styles.device.type, enabled=False):
        weight_sq = weight.float().square().sum(dim=(2, 3))  # (O, I)
        return (styles.float().square() @ weight_sq.T + 1e-8).rsqrt()  # (B, O)
