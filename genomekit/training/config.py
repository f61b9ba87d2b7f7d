"""Training configuration: one frozen dataclass, saved as the run's config.json and in every checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field

from genomekit.networks import DiscriminatorConfig, GeneratorConfig
from genomekit.training.augment import parse_policy


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    data: str  # image folder or zip (StyleGAN layout)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    batch_size: int = 32  # global batch, split evenly across processes
    total_kimg: float = 200.0  # train until the discriminator has seen this many thousand real images
    snapshot_kimg: float = 10.0  # checkpoint, sample grid and metrics every this many kimg
    g_lr: float = 0.002  # Adam learning rate of the generator (mapping layers scale it by 0.01)
    d_lr: float = 0.002  # Adam learning rate of the discriminator
    betas: tuple[float, float] = (0.0, 0.99)  # Adam betas, as in StyleGAN2
    r1_gamma: float | None = None  # R1 weight; None = StyleGAN2's heuristic 0.0002 * res^2 / batch
    r1_interval: int = 16  # lazy R1: every this many steps, scaled by the interval
    pl_weight: float = 0.0  # path-length regularisation weight (StyleGAN2 uses 2; off by default)
    pl_interval: int = 4  # lazy path-length regularisation interval
    pl_decay: float = 0.01  # decay of the running mean path length
    style_mixing: float = 0.9  # probability of mixing two codes at a random layer
    ema_kimg: float | None = None  # G_ema half-life in kimg; None = batch * 10 / 32
    ema_rampup: float | None = 0.05  # half-life is at most this fraction of the images seen so far
    augment: str = ""  # differentiable augmentation policy, e.g. "color,translation,cutout"
    seed: int = 0  # fixes initial weights, data order, codes, noise and augmentation
    grid_seed: int = 12345  # fixes the codes of the snapshot sample grids
    grid_size: int = 8  # snapshot grids show grid_size x grid_size samples

    def __post_init__(self) -> None:
        if self.batch_size < 2:
            raise ValueError(f"batch size must be at least 2, got {self.batch_size}")
        if self.total_kimg <= 0 or self.snapshot_kimg <= 0:
            raise ValueError("total kimg and snapshot kimg must be positive")
        for name in ("g_lr", "d_lr"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.r1_interval < 1 or self.pl_interval < 1:
            raise ValueError("regularisation intervals must be at least 1")
        if not 0 <= self.style_mixing <= 1:
            raise ValueError(f"style mixing probability must be in [0, 1], got {self.style_mixing}")
        if self.generator.resolution != self.discriminator.resolution:
            raise ValueError("generator and discriminator resolutions differ")
        parse_policy(self.augment)

    @property
    def resolved_r1_gamma(self) -> float:
        if self.r1_gamma is not None:
            return self.r1_gamma
        return 0.0002 * self.generator.resolution**2 / self.batch_size

    @property
    def resolved_ema_kimg(self) -> float:
        return self.ema_kimg if self.ema_kimg is not None else self.batch_size * 10 / 32

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["generator"] = GeneratorConfig.from_dict(d["generator"])
        d["discriminator"] = DiscriminatorConfig.from_dict(d["discriminator"])
        d["betas"] = tuple(d["betas"])
        return cls(**d)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)
