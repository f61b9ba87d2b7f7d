"""Checkpoints: safetensors tensors with the run's config and progress as JSON in the file's metadata.

A *training* checkpoint holds G, G_ema, D, both Adam states, the training RNG state, progress and (fp16
runs) the loss scalers' state, so a resumed run ends bit-for-bit where an uninterrupted one would. An
*inference* checkpoint (``export``) holds G_ema and D only, optionally in float16. Files are written
atomically (temporary file, fsync, rename).

``load_checkpoint(path)`` reads either kind once into a :class:`Checkpoint`: its networks
(``generator(device)``, ``discriminator(device)``, built on first use), ``identity`` and ``metadata``.
``load_generator``, ``load_discriminator``, ``model_identity`` and ``checkpoint_metadata`` are shorthands
that each read the file; a command that needs more than one of them loads the checkpoint once instead.

Every reader also takes the names of the models shipped in ``genomekit/assets/models/`` (see its
MODEL_CARD.md): ``"default"`` (the synthetic-faces Genome GAN) and ``"default-mapping"`` (its
mapping-network baseline).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import safetensors
import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from genomekit.errors import UserError
from genomekit.fileio import atomic_path
from genomekit.networks import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

FORMAT = "genomekit-checkpoint/1"
# Names that stand for an inference checkpoint shipped in genomekit/assets/models/.
SHIPPED_MODELS = {"default": "synth_faces_genome.safetensors", "default-mapping": "synth_faces_mapping.safetensors"}

logger = logging.getLogger(__name__)


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable or of another kind."""


@dataclass
class TrainingState:
    """Everything a training run needs to continue exactly."""

    config: dict  # TrainConfig.to_dict()
    G: Generator
    G_ema: Generator
    D: Discriminator
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    rng: torch.Generator  # codes, noise, style mixing, augmentation
    step: int = 0  # optimisation steps done
    nimg: int = 0  # real images shown to the discriminator so far
    pl_mean: Tensor = field(default_factory=lambda: torch.zeros([]))  # running mean path length, 0-dim
    # per-step losses summed since the last snapshot: float64 tensors on the device while training (no
    # host sync per step), floats when read from a checkpoint
    metric_sums: dict[str, float | Tensor] = field(default_factory=dict)
    metric_count: int = 0  # steps in those sums
    # precision fp16: the loss scaler of each optimiser, {"G": ..., "D": ...}; empty otherwise
    scalers: dict[str, torch.amp.GradScaler] = field(default_factory=dict)


def _prefixed(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {f"{prefix}{k}": v.detach().contiguous().clone() for k, v in tensors.items()}


def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], list]:
    state = opt.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"{prefix}{index}.{key}"] = torch.as_tensor(value).detach().contiguous().clone()
    return tensors, state["param_groups"]


def _load_optimizer(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, Tensor], groups: list) -> None:
    state: dict[int, dict[str, Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix):
            index, key = name[len(prefix) :].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    # JSON turned Adam's betas tuple into a list; the fused kernel takes a different path for a list.
    groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in groups]
    opt.load_state_dict({"state": state, "param_groups": groups})
    # safetensors stores plain contiguous tensors; give each moment its parameter's memory format
    # (channels-last convolutions), as Adam's own zeros_like would, so a resumed step matches exactly.
    for group in opt.param_groups:
        for param in group["params"]:
            for key, value in opt.state.get(param, {}).items():
                if value.shape == param.shape:
                    opt.state[param][key] = torch.empty_like(param).copy_(value)


def save_training_checkpoint(path: str | Path, state: TrainingState) -> None:
    """Write a training checkpoint atomically."""
    tensors: dict[str, Tensor] = {}
    tensors.update(_prefixed("G.", state.G.state_dict()))
    tensors.update(_prefixed("G_ema.", state.G_ema.state_dict()))
    tensors.update(_prefixed("D.", state.D.state_dict()))
    opt_g, groups_g = _optimizer_tensors("opt_G.", state.opt_G)
    opt_d, groups_d = _optimizer_tensors("opt_D.", state.opt_D)
    tensors.update(opt_g)
    tensors.update(opt_d)
    tensors["rng.train"] = state.rng.get_state().clone()
    metadata = {
        "format": FORMAT,
        "kind": "training",
        "config": json.dumps(state.config),
        "generator_config": json.dumps(state.G.config_dict()),
        "discriminator_config": json.dumps(asdict(state.D.config)),
        "progress": json.dumps(
            {
                "step": state.step,
                "nimg": state.nimg,
                "pl_mean": float(state.pl_mean),
                "metric_sums": {k: float(v) for k, v in state.metric_sums.items()},
                "metric_count": state.metric_count,
            }
        ),
        "optimizers": json.dumps({"G": groups_g, "D": groups_d}),
        "rng_device": str(state.rng.device),
    }
    if state.scalers:  # scale and growth tracker, so a resumed fp16 run scales its losses exactly as before
        metadata["scalers"] = json.dumps({name: scaler.state_dict() for name, scaler in state.scalers.items()})
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def resolve_model(path: str | Path) -> Path:
    """The file behind a checkpoint argument: a shipped model's name ("default", "default-mapping") or a path."""
    if str(path) in SHIPPED_MODELS:
        import genomekit

        shipped = Path(genomekit.__file__).resolve().parent / "assets" / "models" / SHIPPED_MODELS[str(path)]
        if not shipped.is_file():
            raise CheckpointError(
                f"the shipped model {str(path)!r} is missing from this install (looked for {shipped})"
            )
        return shipped
    return Path(path).expanduser()


def read_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Tensors and metadata of a genomekit checkpoint (a path or a shipped model's name), from one read of
    the file; CheckpointError if missing or not one."""
    path = resolve_model(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()} if metadata.get("format") == FORMAT else {}
    except Exception as error:  # safetensors raises several types for truncated or foreign files
        raise CheckpointError(f"{path} is not a readable checkpoint ({error})") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a genomekit checkpoint (format {metadata.get('format')!r})")
    return tensors, metadata


def _subset(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _load_module(module: nn.Module, weights: dict[str, Tensor], path: Path, what: str) -> None:
    try:
        module.load_state_dict({k: v.float() for k, v in weights.items()})
    except RuntimeError as error:
        raise CheckpointError(f"{path}: {what} weights do not match its config ({str(error)[:200]})") from None


class Checkpoint:
    """A checkpoint read once: its tensors and metadata, with the networks built on first use.

    ``generator(device)`` and ``discriminator(device)`` return the same module on every call for a
    device (eval mode, no gradients): treat it as read-only, and ``copy.deepcopy`` it to change weights.

    Attributes:
        name: the checkpoint as it was named: a shipped model's name ("default") or the path given;
            what messages and written records call it.
        path: the file that was read.
        tensors: every tensor of the file, by name ("G_ema.", "D.", ... prefixes).
        raw_metadata: the file's metadata as stored (JSON strings).
    """

    def __init__(self, name: str, path: Path, tensors: dict[str, Tensor], raw_metadata: dict[str, str]) -> None:
        self.name = name
        self.path = path
        self.tensors = tensors
        self.raw_metadata = raw_metadata
        self._networks: dict[tuple[str, str], nn.Module] = {}

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Checkpoint({self.name!r}, kind={self.kind!r}, latent={self.generator_config.latent!r})"

    @functools.cached_property
    def metadata(self) -> dict:
        """Decoded metadata: format, kind, configs and progress (what ``checkpoint_metadata`` returns)."""
        plain = ("format", "kind", "rng_device")
        return {k: (v if k in plain else json.loads(v)) for k, v in self.raw_metadata.items()}

    @property
    def kind(self) -> str | None:
        """ "training" (resumable) or "inference" (G_ema and D only)."""
        return self.raw_metadata.get("kind")

    @functools.cached_property
    def generator_config(self) -> GeneratorConfig:
        return GeneratorConfig.from_json(self.raw_metadata["generator_config"])

    @property
    def genome_shape(self) -> tuple[int, int, int] | None:
        """(G, V, D) of a Genome generator, None for the mapping baseline (as ``Generator.genome_shape``)."""
        config = self.generator_config
        return (config.num_genes, config.num_variants, config.gene_length) if config.latent == "genome" else None

    @property
    def has_discriminator(self) -> bool:
        """False for a generator-only import; ``discriminator()`` then raises a CheckpointError."""
        return "discriminator_config" in self.raw_metadata

    @functools.cached_property
    def identity(self) -> str:
        """A stable identifier of the generator: sha256 over its config and G_ema tensors (names, bytes)."""
        digest = hashlib.sha256(self.raw_metadata["generator_config"].encode())
        for name in sorted(k for k in self.tensors if k.startswith("G_ema.")):
            value = self.tensors[name].float().contiguous()
            digest.update(name.encode())
            digest.update(value.numpy().tobytes())
        return digest.hexdigest()[:16]

    def generator(self, device: str | torch.device = "cpu") -> Generator:
        """The EMA generator in eval mode on ``device``, built on the first call for that device."""
        key = ("G", str(torch.device(device)))
        if key not in self._networks:
            G = Generator(self.generator_config)
            _load_module(G, _subset(self.tensors, "G_ema."), Path(self.name), "generator")
            self._networks[key] = G.eval().requires_grad_(False).to(device)
        return self._networks[key]

    def discriminator(self, device: str | torch.device = "cpu") -> Discriminator:
        """The discriminator in eval mode on ``device``, built on the first call for that device."""
        if not self.has_discriminator:
            raise CheckpointError(
                f"{Path(self.name)} has no discriminator (it was imported from a generator-only pickle); "
                "import a training snapshot that holds D for commands that score realness"
            )
        key = ("D", str(torch.device(device)))
        if key not in self._networks:
            D = Discriminator(DiscriminatorConfig.from_json(self.raw_metadata["discriminator_config"]))
            _load_module(D, _subset(self.tensors, "D."), Path(self.name), "discriminator")
            self._networks[key] = D.eval().requires_grad_(False).to(device)
        return self._networks[key]


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a training or inference checkpoint once (a path, or a shipped model's name: "default",
    "default-mapping"); CheckpointError if it is missing or not a genomekit checkpoint."""
    tensors, metadata = read_checkpoint(path)
    return Checkpoint(str(path), resolve_model(path), tensors, metadata)


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> Generator:
    """The EMA generator of a training or inference checkpoint, in eval mode on ``device``."""
    return load_checkpoint(path).generator(device)


def load_discriminator(path: str | Path, device: str | torch.device = "cpu") -> Discriminator:
    """The discriminator of a checkpoint, in eval mode on ``device``."""
    return load_checkpoint(path).discriminator(device)


def checkpoint_metadata(path: str | Path) -> dict:
    """Decoded metadata: kind, configs and progress."""
    return load_checkpoint(path).metadata


def load_training_state(path: str | Path, state: TrainingState) -> TrainingState:
    """Restore ``state`` (already built from the same config) from a training checkpoint."""
    path = Path(path)
    tensors, metadata = read_checkpoint(path)
    if metadata.get("kind") != "training":
        raise CheckpointError(f"{path} is an inference checkpoint; training can only resume from a training one")
    _load_module(state.G, _subset(tensors, "G."), path, "generator")
    _load_module(state.G_ema, _subset(tensors, "G_ema."), path, "EMA generator")
    _load_module(state.D, _subset(tensors, "D."), path, "discriminator")
    groups = json.loads(metadata["optimizers"])
    device = next(state.G.parameters()).device
    _load_optimizer(state.opt_G, "opt_G.", {k: v.to(device) for k, v in tensors.items()}, groups["G"])
    _load_optimizer(state.opt_D, "opt_D.", {k: v.to(device) for k, v in tensors.items()}, groups["D"])
    progress = json.loads(metadata["progress"])
    saved_on = torch.device(metadata.get("rng_device", "cpu")).type
    if saved_on == state.rng.device.type:
        state.rng.set_state(tensors["rng.train"])
    else:  # CPU and CUDA generator states are different objects: restart the stream from (seed, step)
        seed = json.loads(metadata["config"]).get("seed", 0)
        state.rng.manual_seed(seed * 1000 + 7919 * int(progress["step"]) + 1)
        logger.warning(
            "%s was written on %s and resumes on %s: the noise and augmentation streams restart from "
            "(seed, step), so this run will not match an uninterrupted one exactly",
            path,
            saved_on,
            state.rng.device.type,
        )
    state.step, state.nimg = progress["step"], progress["nimg"]
    state.pl_mean = torch.tensor(float(progress["pl_mean"]), dtype=torch.float32, device=device)
    # Checkpoints written before interrupts were saved between snapshots have no partial sums.
    state.metric_sums = dict(progress.get("metric_sums", {}))
    state.metric_count = int(progress.get("metric_count", 0))
    saved_scalers = json.loads(metadata.get("scalers", "{}"))
    for name, scaler in state.scalers.items():
        if name in saved_scalers:
            scaler.load_state_dict(saved_scalers[name])
    return state


def load_initial_weights(path: str | Path, state: TrainingState) -> None:
    """Start a run from another checkpoint's networks: its G_ema into G and G_ema, its D into D.

    The run's optimisers, RNG and progress stay fresh (a fine-tune, not a resume). The configs must match.
    """
    path = Path(path)
    tensors, metadata = read_checkpoint(path)
    G_weights = _subset(tensors, "G_ema.")
    _load_module(state.G, G_weights, path, "generator")
    _load_module(state.G_ema, G_weights, path, "EMA generator")
    if "discriminator_config" in metadata:
        _load_module(state.D, _subset(tensors, "D."), path, "discriminator")


def export_inference_checkpoint(
    src: str | Path, dst: str | Path, half: bool = True, extra: dict[str, str] | None = None
) -> None:
    """Write G_ema and D of ``src`` to ``dst`` (float16 when ``half``), with the configs, atomically.

    ``extra`` adds metadata entries (JSON strings), e.g. where the model came from.

    Raises:
        CheckpointError: ``src`` is missing or not a checkpoint.
        UserError: ``dst`` is ``src`` itself, an existing directory, or an existing training checkpoint.
    """
    source = resolve_model(src)
    target = Path(dst).expanduser()
    if target.exists() and source.exists() and os.path.samefile(source, target):
        raise UserError(f"{target} is also the input checkpoint; write the export to another file")
    tensors, metadata = read_checkpoint(source)
    keep = {k: v for k, v in tensors.items() if k.startswith(("G_ema.", "D."))}
    extra = {**{k: metadata[k] for k in ("progress", "config", "source") if k in metadata}, **(extra or {})}
    write_inference_tensors(
        target, keep, metadata["generator_config"], metadata.get("discriminator_config"), extra, half
    )


def save_inference_checkpoint(
    path: str | Path, G: Generator, D: Discriminator | None, extra: dict[str, str] | None = None, half: bool = False
) -> None:
    """Write a generator (as G_ema) and its discriminator (None: none) as an inference checkpoint, atomically.

    ``extra`` adds metadata entries (JSON strings), e.g. how the generator was derived.
    """
    tensors = _prefixed("G_ema.", G.state_dict())
    if D is not None:
        tensors.update(_prefixed("D.", D.state_dict()))
    d_config = json.dumps(asdict(D.config)) if D is not None else None
    write_inference_tensors(path, tensors, json.dumps(G.config_dict()), d_config, dict(extra or {}), half)


def _check_inference_target(path: Path) -> None:
    """Refuse to write an inference checkpoint over a directory or over a run's training checkpoint."""
    if path.is_dir():
        raise UserError(f"{path} is a directory; give the file to write, e.g. {path / 'model.safetensors'}")
    if not path.is_file():
        return
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception:  # not a checkpoint at all: an ordinary output file, overwritten as usual
        return
    if metadata.get("format") == FORMAT and metadata.get("kind") == "training":
        kimg = json.loads(metadata.get("progress", "{}")).get("nimg", 0) / 1000
        raise UserError(
            f"{path} is a training checkpoint (a run's resumable state at {kimg:g} kimg); writing an inference "
            "checkpoint over it would destroy the run. Write to another file"
        )


def write_inference_tensors(
    path: str | Path,
    tensors: dict[str, Tensor],
    generator_config: str,
    discriminator_config: str | None,
    extra: dict[str, str],
    half: bool,
) -> None:
    """Write ``tensors`` ("G_ema."/"D." names) with the configs as an inference checkpoint, atomically
    (float16 when ``half``); refuses a directory or a run's training checkpoint as ``path``."""
    _check_inference_target(Path(path))
    if half:
        tensors = {k: (v.half() if v.is_floating_point() else v) for k, v in tensors.items()}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    metadata = {
        **extra,
        "format": FORMAT,
        "kind": "inference",
        "generator_config": generator_config,
    }
    if discriminator_config is not None:
        metadata["discriminator_config"] = discriminator_config
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def model_identity(path: str | Path) -> str:
    """A stable identifier of a checkpoint's generator: sha256 over its G_ema tensors (names, dtypes, bytes)."""
    return load_checkpoint(path).identity
