"""All A CelebA-HQ classifier networks in one forward pass: grouped convolutions over stacked weights.

``CelebAHQClassifierSet`` runs its A networks (40 for StyleGAN's set, ~18 GMAC each at 256 px) one
after another: 40 small passes, each too small to fill a GPU. ``BatchedCelebAHQ`` is the same set
with the same parameters, computing all A networks at once. Network ``a``'s channels are block ``a``
of each activation, and every layer is one call::

    fromrgb     one 1x1 conv with A * nf(top-1) outputs   (B, 3, R, R)         -> (B, A*C, R, R)
    b256 ... b8 conv0 3x3, [blur], conv1_down 3x3 /2, each with groups=A       -> (B, A*512, 4, 4)
    b4          minibatch stddev per network (+n channels each); conv groups=A -> (B, A*(512+n), 4, 4) -> (B, A*512, 4, 4)
                dense0 as one batched matmul (A, 512*16, 512)                   -> (B, A, 512) = features
                dense1 as one batched matmul (A, 512, 1)                        -> (B, A) = l

The parameters, their names and hence ``state_dict()``, saved files and ``identity`` are exactly the
sequential set's (this class is a ``CelebAHQClassifierSet``): the stacked weights are derived from
them on the first forward pass and rebuilt whenever a parameter is replaced or changed in place.
They are a second copy of the weights on the set's device (A times one network: about 4 GB in
float32 for the 40 official networks at 256 px, the fused down-sampling kernels included).

The batched pass runs whenever no parameter gradient is wanted (``torch.no_grad``, inference mode,
or frozen parameters); with autograd recording into the parameters it falls back to the sequential
pass, whose per-network parameters receive the gradients. Activations are A times one network's, so
a batch needs A times the memory per image of the sequential pass; ``collect-stats --batch auto``
measures that. Results equal the sequential pass up to float rounding (about 1e-6 in fp32).

Speed (``bench/classifier_scoring.py --celebahq``, bench/RESULTS.md): on a CPU the batched pass wins
only where each network's pass is too small to keep the CPU busy (2x for the tests' tiny networks at
4 images); once the work is large it is slower (0.45-0.9x: oneDNN's grouped convolutions and A times
larger activations). On a GPU it saves 39 of every 40 kernel launches, but cuDNN's grouped
convolutions with wide groups have been reported slower than separate convolutions
(pytorch/pytorch#73764), and the A-times memory per image lowers the batch ``--batch auto`` picks:
measure there before relying on it (``load_classifier_set(..., batched=False)`` gives the sequential set).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from classifiers.celebahq import CelebAHQClassifierSet, CelebAHQNetwork


def grouped_minibatch_stddev(x: Tensor, num_networks: int, group_size: int, num_features: int = 1) -> Tensor:
    """``celebahq.minibatch_stddev`` for each of A networks whose channels are blocks of ``x``.

    Args:
        x: (B, A*C, H, W), network ``a``'s activations in channels ``a*C ... a*C + C-1``.
    Returns:
        (B, A*(C+n), H, W): each network's C channels followed by its n standard-deviation channels.
        Groups are formed as in the single-network layer (image b in group b mod (B / group)).
    """
    batch, stacked_channels, height, width = x.shape
    channels = stacked_channels // num_networks
    group = min(group_size, batch)
    while batch % group:
        group -= 1
    y = x.float().reshape(group, -1, num_networks, num_features, channels // num_features, height, width)
    y = y - y.mean(dim=0, keepdim=True)  # (G, M, A, n, c, H, W)
    y = (y.square().mean(dim=0) + 1e-8).sqrt()  # (M, A, n, c, H, W)
    y = y.mean(dim=(3, 4, 5))  # (M, A, n)
    y = y.to(x.dtype)[..., None, None].repeat(group, 1, 1, height, width)  # (B, A, n, H, W)
    x = x.reshape(batch, num_networks, channels, height, width)  # (B, A, C, H, W)
    return torch.cat([x, y], dim=2).reshape(batch, num_networks * (channels + num_features), height, width)


def _fused_down_kernel(weight: Tensor) -> Tensor:
    """3x3 kernel (O, I, 3, 3) -> the 4x4 stride-2 kernel of conv + 2x2 average pool (as EqualizedConv2d)."""
    w = F.pad(weight, (1, 1, 1, 1))
    return (w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]) * 0.25


class BatchedCelebAHQ(CelebAHQClassifierSet):
    """A ``CelebAHQClassifierSet`` whose A networks run as one grouped network (see the module docstring).

    Build it from networks like the sequential set, or from one with ``BatchedCelebAHQ.from_set``
    (which shares that set's networks; nothing is copied). Networks of different architectures cannot
    be stacked: such a set always runs sequentially.
    """

    def __init__(self, attribute_names: Sequence[str], networks: Sequence[CelebAHQNetwork]) -> None:
        super().__init__(attribute_names, networks)
        self.stackable = len({network.config for network in self.networks}) == 1
        kernel = torch.tensor([1.0, 2.0, 1.0])
        # Not persistent: the state dict (and so the identity) stays the sequential set's.
        self.register_buffer("batched_blur_kernel", (kernel[:, None] * kernel[None, :]) / 16.0, persistent=False)
        self._stacked: dict[str, Tensor] = {}
        self._stacked_key: tuple | None = None

    @classmethod
    def from_set(cls, classifier: CelebAHQClassifierSet) -> BatchedCelebAHQ:
        """The batched form of ``classifier``, sharing its networks (same weights, same ``identity``)."""
        batched = cls(classifier.attribute_names, list(classifier.networks))
        batched.train(classifier.training)
        batched.source = getattr(classifier, "source", None)
        return batched.to(classifier.device)

    @property
    def mbstd_group_size(self) -> int:
        """Images per minibatch-standard-deviation group of every network (1: none, or they differ)."""
        sizes = {network.config.mbstd_group_size for network in self.networks}
        return max(1, sizes.pop()) if len(sizes) == 1 else 1

    # -- the stacked weights -------------------------------------------------------------------------

    def _layer_names(self) -> list[str]:
        first = self.networks[0]
        names = ["fromrgb"]
        for block in first.block_names:
            names += [f"{block}.conv0", f"{block}.conv1_down"]
        return [*names, "b4.conv", "b4.dense0", "b4.dense1"]

    def _stacked_weights(self) -> dict[str, Tensor]:
        """Scaled, stacked weights per layer, rebuilt when a parameter was replaced or modified in place.

        Conv weights are (A*O, I, k, k) (fused 4x4 for the down-sampling convs), conv biases (A*O,),
        dense weights (A, O, I) and biases (A, O).
        """
        parameters = list(self.parameters())
        key = tuple((p.data_ptr(), p._version, p.dtype) for p in parameters)
        if key == self._stacked_key:
            return self._stacked
        self._stacked, self._stacked_key = {}, None  # free the old copy before building the new one
        stacked: dict[str, Tensor] = {}
        # Ordinary tensors even when first called in inference mode, so a later pass with autograd
        # (inputs that require grad, frozen weights) may save them for the backward pass.
        with torch.inference_mode(False), torch.no_grad():
            for name in self._layer_names():
                layers = [network.get_submodule(name) for network in self.networks]
                weights = [layer.weight * layer.scale for layer in layers]
                biases = [layer.bias for layer in layers]
                if weights[0].ndim == 4:  # conv
                    if layers[0].down:
                        weights = [_fused_down_kernel(w) for w in weights]
                    stacked[f"{name}.weight"] = torch.cat(weights).contiguous(memory_format=torch.channels_last)
                    stacked[f"{name}.bias"] = torch.cat(biases)
                else:  # dense
                    stacked[f"{name}.weight"] = torch.stack(weights)
                    stacked[f"{name}.bias"] = torch.stack(biases)
        self._stacked, self._stacked_key = stacked, key
        return stacked

    def _batched(self) -> bool:
        """Whether this pass may use the stacked weights (no parameter gradient is being recorded)."""
        if not self.stackable:
            return False
        return not (torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()))

    # -- the forward pass ----------------------------------------------------------------------------

    def _conv(self, x: Tensor, weights: dict[str, Tensor], name: str, groups: int) -> Tensor:
        weight, bias = weights[f"{name}.weight"], weights[f"{name}.bias"]
        if name.endswith("conv1_down"):
            out = F.conv2d(x, weight, bias, stride=2, padding=1, groups=groups)
        else:
            out = F.conv2d(x, weight, bias, padding=weight.shape[-1] // 2, groups=groups)
        return F.leaky_relu(out, 0.2)

    def _blur(self, x: Tensor) -> Tensor:
        """Normalised [1, 2, 1] x [1, 2, 1] depthwise filter, zero padding, on all A*C channels."""
        kernel = self.batched_blur_kernel.to(x.dtype).expand(x.shape[1], 1, 3, 3)
        return F.conv2d(x, kernel, padding=1, groups=x.shape[1])

    def _features(self, x: Tensor) -> Tensor:
        """(B, 3, R, R) -> the networks' dense0 activations, concatenated: (B, A * nf(0))."""
        if not self._batched():
            return super()._features(x)
        config = self.networks[0].config
        count = len(self.networks)  # A
        weights = self._stacked_weights()
        x = self._conv(x, weights, "fromrgb", groups=1)  # (B, A*C, R, R): one conv, A*C outputs
        for block in self.networks[0].block_names:
            x = self._conv(x, weights, f"{block}.conv0", groups=count)
            x = self._blur(x) if config.blur else x
            x = self._conv(x, weights, f"{block}.conv1_down", groups=count)  # (B, A*C', H/2, W/2)
        if config.mbstd_group_size > 1:
            x = grouped_minibatch_stddev(x, count, config.mbstd_group_size, config.mbstd_num_features)
        x = self._conv(x, weights, "b4.conv", groups=count)  # (B, A*C, 4, 4)
        x = x.reshape(len(x), count, -1)  # (B, A, C*16), each network's (C, H, W) order, as TF's NCHW reshape
        dense0 = weights["b4.dense0.weight"]  # (A, nf(0), C*16)
        features = torch.einsum("bai,aoi->bao", x, dense0) + weights["b4.dense0.bias"]  # (B, A, nf(0))
        return F.leaky_relu(features, 0.2).flatten(1)  # (B, A * nf(0))

    def _logits_from_features(self, features: Tensor) -> Tensor:
        """(B, A * nf(0)) -> 2 l (B, A)."""
        if not self._batched():
            return super()._logits_from_features(features)
        weights = self._stacked_weights()
        dense1 = weights["b4.dense1.weight"][:, 0]  # (A, nf(0))
        features = features.reshape(len(features), *dense1.shape)  # (B, A, nf(0))
        raw = torch.einsum("bai,ai->ba", features, dense1) + weights["b4.dense1.bias"][:, 0]  # (B, A)
        return 2.0 * raw


def batched(classifier: CelebAHQClassifierSet) -> CelebAHQClassifierSet:
    """``classifier`` as a ``BatchedCelebAHQ`` sharing its networks (unchanged if already one)."""
    if isinstance(classifier, BatchedCelebAHQ):
        return classifier
    return BatchedCelebAHQ.from_set(classifier)


__all__ = ["BatchedCelebAHQ", "batched", "grouped_minibatch_stddev"]
