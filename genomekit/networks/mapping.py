"""StyleGAN2's mapping network, the baseline latent source: z ~ N(0, I) -> w through an MLP."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genomekit.genome import _truncate
from genomekit.networks.layers import EqualizedLinear


class MappingNetwork(nn.Module):
    """8-layer MLP from a Gaussian z to the intermediate latent w, with tracked w_avg for truncation.

    Args:
        z_dim: input latent size.
        w_dim: output latent size.
        num_ws: how many copies of ``w`` the synthesis network consumes.
        num_layers: fully connected layers (8 in StyleGAN).
        lr_multiplier: learning-rate multiplier of every layer (0.01 in StyleGAN).
        w_avg_beta: decay of the running average of w, updated during training.
    """

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,
        lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
    ) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws = z_dim, w_dim, num_ws
        self.w_avg_beta = w_avg_beta
        sizes = [z_dim] + [w_dim] * num_layers
        self.layers = nn.Sequential(
            *(
                EqualizedLinear(i, o, lr_multiplier=lr_multiplier, activation=True)
                for i, o in zip(sizes[:-1], sizes[1:], strict=True)
            )
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """Gaussian latents z, (B, z_dim), drawn on the generator's device and moved to the network's."""
        device = generator.device if generator is not None else torch.device("cpu")
        z = torch.randn(batch_size, self.z_dim, generator=generator, device=device)
        return z.to(self.w_avg.device)

    def forward(
        self,
        z: Tensor,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> Tensor:
        """Map z to per-layer latents.

        Args:
            z: (B, z_dim) Gaussian latents.
            update_emas: update the running average of w (training only).
        Returns:
            ws: (B, num_ws, w_dim).
        """
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (B, {self.z_dim}), got {tuple(z.shape)}")
        z = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()  # normalise the 2nd moment
        w = self.layers(z)  # (B, w_dim)
        if update_emas:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = w.unsqueeze(1).expand(-1, self.num_ws, -1)  # (B, num_ws, w_dim), a view: no copy
        if truncation_psi != 1:
            ws = _truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)
        return ws
