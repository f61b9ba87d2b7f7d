"""Training configuration: one frozen dataclass, saved as the run's config.json and in every checkpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from genomekit.errors import UserError
from genomekit.networks import DiscriminatorConfig, GeneratorConfig
from genomekit.precision import PRECISIONS
from genomekit.training.augment import parse_policy

# The fields whose name can start a ValueError message of TrainConfig or of the configs it holds
# (GeneratorConfig, DiscriminatorConfig, GenomeConfig): "batch_size must be at least 2, got 1".
# Nested fields go by their own name; resolution, img_channels, channel_base, channel_max, conv_clamp,
# num_fp16_res and network_version exist in both the generator's and the discriminator's config.
CONFIG_ERROR_FIELDS = frozenset(
    {
        # TrainConfig
        "data",
        "batch_size",
        "total_kimg",
        "snapshot_kimg",
        "g_lr",
        "genome_lr_mult",
        "d_lr",
        "betas",
        "r1_gamma",
        "r1_interval",
        "pl_weight",
        "pl_interval",
        "pl_decay",
        "style_mixing",
        "ema_kimg",
        "ema_rampup",
        "augment",
        "seed",
        "grid_seed",
        "grid_size",
        "precision",
        # GeneratorConfig and GenomeConfig
        "latent",
        "num_genes",
        "num_variants",
        "gene_length",
        "mapping_layers",
        "z_dim",
        # both networks
        "resolution",
        "img_channels",
        "channel_base",
        "channel_max",
        "conv_clamp",
        "num_fp16_res",
        "network_version",
        # DiscriminatorConfig
        "mbstd_group_size",
        "mbstd_channels",
    }
)


def config_error_field(error: ValueError) -> str | None:
    """The config field a validation error of TrainConfig (or a config it holds) is about; None for others."""
    first = str(error).split(" ", 1)[0]
    return first if first in CONFIG_ERROR_FIELDS else None


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    data: str  # image folder or zip (StyleGAN layout)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    batch_size: int = 32  # global batch, split evenly across processes
    total_kimg: float = 200.0  # train until the discriminator has seen this many thousand real images
    snapshot_kimg: float = 10.0  # checkpoint, sample grid and metrics every this many kimg
    g_lr: float = 0.002  # Adam learning rate of the generator (mapping layers scale it by 0.01)
    genome_lr_mult: float = 1.0  # the Genome's variants learn at g_lr x this (paper: 1; 0: frozen at init)
    d_lr: float = 0.002  # Adam learning rate of the discriminator
    betas: tuple[float, float] = (0.0, 0.99)  # Adam betas, as in StyleGAN2
    # R1 weight; None = NVlabs' 'auto' heuristic 0.0002 * res^2 / batch. 10 (NVlabs' FFHQ value) by default:
    # the heuristic's 0.0064 at 32 px mode-collapses small runs on real data (docs/GENOME_HEALTH.md, section 2).
    r1_gamma: float | None = 10.0
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
    precision: str = "fp32"  # G/D passes: fp32, bf16 (autocast) or fp16 (autocast + loss scaling, CUDA)

    def __post_init__(self) -> None:
        # Every message starts with the offending field's name (nested generator/discriminator fields by
        # their own name), so the command line can tell which option to blame.
        if not self.data:
            raise ValueError("data must name an image folder or zip, got an empty path")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2, got {self.batch_size}")
        for name in ("total_kimg", "snapshot_kimg", "g_lr", "d_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.genome_lr_mult < float("inf"):
            raise ValueError(f"genome_lr_mult must be a finite number >= 0, got {self.genome_lr_mult}")
        if self.genome_lr_mult != 1 and self.generator.latent != "genome":
            raise ValueError(
                f"genome_lr_mult applies to a Genome, got {self.genome_lr_mult} for the {self.generator.latent!r} latent"
            )
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        for name in ("r1_interval", "pl_interval", "grid_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.r1_gamma is not None and not self.r1_gamma >= 0:
            raise ValueError(f"r1_gamma must be >= 0 (or None for the heuristic), got {self.r1_gamma}")
        if not self.pl_weight >= 0:
            raise ValueError(f"pl_weight must be >= 0, got {self.pl_weight}")
        for name in ("pl_decay", "style_mixing"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("ema_kimg", "ema_rampup"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive (or None), got {getattr(self, name)}")
        for name in ("seed", "grid_seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {getattr(self, name)}")
        for name in ("resolution", "img_channels"):
            ours, theirs = getattr(self.generator, name), getattr(self.discriminator, name)
            if ours != theirs:
                raise ValueError(f"{name} of the discriminator ({theirs}) differs from the generator's ({ours})")
        parse_policy(self.augment)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

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


# Fields a resumed run may take from the request; every other one is the run's own. These three leave
# the run's course as it was (where the images are, when to stop, how often to snapshot), so a resumed
# run still ends bit-for-bit where an uninterrupted one would. The others fix the networks' shapes
# (generator.*, discriminator.*), the data order and the codes (seed, batch_size), or the optimisation
# (learning rates, regularisation, augmentation, EMA, precision): changing them would make the result
# depend on when the run was interrupted. Device and data-loading workers are arguments of ``train``, not config,
# and may change freely.
RESUMABLE_FIELDS = frozenset({"data", "total_kimg", "snapshot_kimg"})


def _leaf_fields(config: Any, prefix: str = "") -> list[str]:
    names = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        names += _leaf_fields(value, f"{prefix}{f.name}.") if dataclasses.is_dataclass(value) else [prefix + f.name]
    return names


def _get(config: TrainConfig, name: str) -> Any:
    value: Any = config
    for part in name.split("."):
        value = getattr(value, part)
    return value


def resume_conflicts(saved: TrainConfig, requested: TrainConfig, given: Iterable[str]) -> list[tuple[str, Any, Any]]:
    """The fields the user gave that a resumed run cannot take: (dotted name, the run's value, the requested value).

    A field conflicts when it is in ``given``, is not one of ``RESUMABLE_FIELDS`` and differs between the
    two configs; giving the run's own value again is no conflict.

    Args:
        saved: the run's config (``run_config(out)``).
        requested: the config built from the command line.
        given: dotted names of the fields the user set explicitly: "batch_size", "generator.num_variants";
            "generator" stands for all of its fields.
    Returns:
        The conflicts in field order (empty when the resume may go ahead).
    Raises:
        ValueError: a name in ``given`` that is not a TrainConfig field.
    """
    leaves = _leaf_fields(saved)
    wanted = set()
    for name in given:
        matched = [leaf for leaf in leaves if leaf == name or leaf.startswith(name + ".")]
        if not matched:
            raise ValueError(f"{name!r} is not a TrainConfig field; known: {', '.join(leaves)}")
        wanted.update(matched)
    return [
        (name, _get(saved, name), _get(requested, name))
        for name in leaves
        if name in wanted and name not in RESUMABLE_FIELDS and _get(saved, name) != _get(requested, name)
    ]


def resume_config(saved: TrainConfig, requested: TrainConfig, given: Iterable[str]) -> TrainConfig:
    """The config a resumed run continues under: ``saved`` with the resumable fields the user gave from ``requested``.

    Fields the user did not give keep the run's values (not the command line's defaults).

    Raises:
        UserError: a given field that cannot change on resume (see ``resume_conflicts``), naming both values.
    """
    given = set(given)
    conflicts = resume_conflicts(saved, requested, given)
    if conflicts:
        listed = "; ".join(f"{name} is {old!r} in the run, {new!r} requested" for name, old, new in conflicts)
        raise UserError(
            f"a resumed run keeps its settings, but {listed}; resume without changing them, or start a new run "
            f"(only {', '.join(sorted(RESUMABLE_FIELDS))} may change on resume)"
        )
    return saved.replace(**{name: getattr(requested, name) for name in RESUMABLE_FIELDS if name in given})
