"""The generator: a latent source (Genome or mapping network) followed by the synthesis network.

Both latent sources turn a *code* into per-layer latents ``ws`` (B, num_ws, w_dim) with the same call,
so the synthesis network never knows which one it has. A code is a gene sequence (B, G) of int64
variant indices for the Genome and a Gaussian z (B, z_dim) for the mapping network.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from genomekit.genome import Genome, GenomeConfig
from genomekit.networks.layers import LATEST_NETWORK_VERSION, check_network_version
from genomekit.networks.mapping import MappingNetwork
from genomekit.networks.synthesis import SynthesisNetwork

LATENT_KINDS = ("genome", "mapping")


@dataclass(frozen=True, kw_only=True)
class GeneratorConfig:
    latent: str = "genome"  # latent source: "genome" (StyleGenes) or "mapping" (StyleGAN2 baseline)
    num_genes: int = 32  # G; w_dim = num_genes * gene_length for both latent sources
    num_variants: int = 256  # V, variants per gene (genome only)
    gene_length: int = 8  # D, entries per variant
    mapping_layers: int = 8  # fully connected layers of the mapping network (mapping only)
    resolution: int = 64  # output resolution, a power of two >= 4
    img_channels: int = 3  # output channels
    channel_base: int = 2048  # feature maps are channel_base / resolution ...
    channel_max: int = 128  # ... capped at channel_max
    use_noise: bool = True  # per-pixel noise inputs
    z_dim: int | None = None  # mapping only: size of the Gaussian input; None = w_dim
    conv_clamp: float | None = None  # clamp convolution outputs to +-conv_clamp (NVlabs' configs: 256)
    num_fp16_res: int = 0  # synthesis blocks of this many highest resolutions run in float16 on CUDA (NVlabs: 4)
    network_version: int = LATEST_NETWORK_VERSION  # 2: NVlabs' StyleGAN2; 1: genomekit 0.1 resampling

    def __post_init__(self) -> None:
        # Each message starts with the offending field's name (GenomeConfig's too).
        if self.latent not in LATENT_KINDS:
            raise ValueError(f"latent must be one of {', '.join(LATENT_KINDS)}, got {self.latent!r}")
        GenomeConfig(num_genes=self.num_genes, num_variants=self.num_variants, gene_length=self.gene_length)
        if self.resolution < 4 or self.resolution & (self.resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 4, got {self.resolution}")
        for name in ("mapping_layers", "img_channels", "channel_base", "channel_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.z_dim is not None and self.z_dim < 1:
            raise ValueError(f"z_dim must be positive or None, got {self.z_dim}")
        if self.conv_clamp is not None and self.conv_clamp <= 0:
            raise ValueError(f"conv_clamp must be positive or None, got {self.conv_clamp}")
        if self.num_fp16_res < 0:
            raise ValueError(f"num_fp16_res must be >= 0, got {self.num_fp16_res}")
        check_network_version(self.network_version)

    @property
    def w_dim(self) -> int:
        return self.num_genes * self.gene_length

    @classmethod
    def from_dict(cls, data: dict) -> GeneratorConfig:
        """A config saved by any genomekit version; one without ``network_version`` predates version 2."""
        return cls(**{"network_version": 1, **data})

    @classmethod
    def from_json(cls, text: str) -> GeneratorConfig:
        return cls.from_dict(json.loads(text))


class Generator(nn.Module):
    """Code -> image. ``latent`` is a Genome or a MappingNetwork; ``synthesis`` is StyleGAN2's."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.synthesis = SynthesisNetwork(
            w_dim=config.w_dim,
            img_resolution=config.resolution,
            img_channels=config.img_channels,
            channel_base=config.channel_base,
            channel_max=config.channel_max,
            use_noise=config.use_noise,
            conv_clamp=config.conv_clamp,
            num_fp16_res=config.num_fp16_res,
            network_version=config.network_version,
        )
        num_ws = self.synthesis.num_ws
        if config.latent == "genome":
            self.latent: Genome | MappingNetwork = Genome(
                config.num_genes, config.num_variants, config.gene_length, num_ws
            )
        else:
            # NVlabs' stylegan3 code tracks w_avg with beta 0.998; genomekit 0.1 used 0.995.
            self.latent = MappingNetwork(
                config.z_dim or config.w_dim,
                config.w_dim,
                num_ws,
                num_layers=config.mapping_layers,
                w_avg_beta=0.998 if config.network_version >= 2 else 0.995,
            )
        self.latent_kind = config.latent
        self.img_resolution = config.resolution
        self.img_channels = config.img_channels
        self.num_ws = num_ws
        self.w_dim = config.w_dim

    @property
    def genome_shape(self) -> tuple[int, int, int] | None:
        """(G, V, D) for a Genome generator, None for the mapping baseline."""
        return self.latent.shape if isinstance(self.latent, Genome) else None

    def sample_codes(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        """Codes from the training prior: uniform gene sequences (B, G) or Gaussian z (B, z_dim)."""
        return self.latent.sample(batch_size, generator)

    def mapping(
        self,
        codes: Tensor,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_emas: bool = False,
    ) -> Tensor:
        """Codes -> per-layer latents ws (B, num_ws, w_dim)."""
        if isinstance(self.latent, Genome):
            return self.latent(codes, truncation_psi, truncation_cutoff)
        return self.latent(codes, truncation_psi, truncation_cutoff, update_emas=update_emas)

    def forward(
        self,
        codes: Tensor,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
        generator: torch.Generator | None = None,
        force_fp32: bool = False,
        noise: Sequence[Tensor] | None = None,
    ) -> Tensor:
        """Codes -> images (B, C, R, R) float32, roughly in [-1, 1].

        ``noise_mode="const"`` (default) makes an image a function of its code alone; training uses
        "random" with an explicit ``generator``, or with ``noise`` drawn up front by ``draw_noise`` (what a
        compiled forward needs). ``force_fp32`` runs the float16 blocks in float32 on CUDA.
        """
        ws = self.mapping(codes, truncation_psi, truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, generator=generator, force_fp32=force_fp32, noise=noise)

    def draw_noise(
        self, batch_size: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> list[Tensor]:
        """The "random" noise maps of one forward pass, drawn up front: see ``SynthesisNetwork.draw_noise``."""
        return self.synthesis.draw_noise(batch_size, generator, device)

    def config_dict(self) -> dict:
        return asdict(self.config)
