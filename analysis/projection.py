"""`genomekit project` and `genomekit insert`: real images into the genome, as files a user keeps.

``project_images`` writes a projection directory::

    projection.safetensors   ws (N, num_ws, w_dim), targets (N, C, R, R) uint8, and for a Genome model
                             sequences_l1 / sequences_l2 / sequences_cosine (N, G); metadata: the model's
                             identity, the image names and sha256s, the settings
    results.csv              one row per image: PSNR and SSIM of the projection and of each
                             nearest-variant sequence, and the sequences (comma-separated, as
                             `genomekit interpolate --from` reads them)
    images/NAME.png          the projection; NAME_l1.png, NAME_l2.png, NAME_cosine.png the sequences
    figure.png               one row per image: target | projection | L1 | L2 | cosine (paper, Fig. 11)

``insert_images`` tunes the model so that each image's nearest-variant sequence reproduces it and
writes the new inference checkpoint, which records where it came from (its ``insertion`` metadata).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from genomekit.errors import UserError
from genomekit.fileio import atomic_path, file_sha256
from genomekit.images import save_grid, save_images
from genomekit.insertion import InsertionConfig, insert
from genomekit.projection import METRICS, ProjectionConfig, fidelity, nearest_variants, project, render_sequences
from genomekit.training.checkpoint import save_inference_checkpoint

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from torch import nn

    from genomekit.training.checkpoint import Checkpoint

PROJECTION_FILE = "projection.safetensors"


def sequence_text(sequence: Tensor) -> str:
    """A gene sequence as comma-separated variant indices."""
    return ",".join(str(int(v)) for v in sequence)


def _to_uint8(images: Tensor) -> Tensor:
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


@dataclass
class ProjectedImages:
    """Projections of N images and their nearest-variant sequences, on the CPU.

    Attributes:
        table: one row per image (see the module docstring's results.csv).
        tensors: ws (N, num_ws, w_dim), targets (N, C, R, R) uint8, sequences_METRIC (N, G) int64.
        images: (N, C, R, R) per column of the figure: "target", "projection", then each metric.
    """

    table: pd.DataFrame
    tensors: dict[str, Tensor]
    images: dict[str, Tensor]


def project_and_match(
    model: Checkpoint,
    paths: Sequence[Path],
    targets: Tensor,
    config: ProjectionConfig,
    distance: nn.Module | None,
    *,
    seed: int,
    device: str = "cpu",
    on_step: Callable[[int, float], object] | None = None,
) -> ProjectedImages:
    """Project ``targets`` (read from ``paths``) and find their nearest-variant sequences.

    Args:
        model: the checkpoint (Genome or mapping; a mapping model gets no nearest-variant sequences).
        targets: (N, C, R, R) images in [-1, 1], R the model's resolution.
    """
    G = model.generator(device)
    projection = project(G, targets, config, distance, torch.Generator().manual_seed(seed), on_step)
    table = pd.DataFrame({"image": [p.name for p in paths]})
    quality = fidelity(projection.images, targets)
    table["psnr"], table["ssim"] = quality["psnr"].numpy(), quality["ssim"].numpy()
    tensors = {"ws": projection.ws.contiguous(), "targets": _to_uint8(targets).contiguous()}
    images = {"target": targets, "projection": projection.images}
    if G.genome_shape is not None:
        for metric in METRICS:
            sequences = nearest_variants(G.latent, projection.ws, metric)
            images[metric] = render_sequences(G, sequences)
            quality = fidelity(images[metric], targets)
            table[f"psnr_{metric}"], table[f"ssim_{metric}"] = quality["psnr"].numpy(), quality["ssim"].numpy()
            table[f"sequence_{metric}"] = [sequence_text(s) for s in sequences]
            tensors[f"sequences_{metric}"] = sequences.contiguous()
    return ProjectedImages(table=table, tensors=tensors, images=images)


def write_projection(
    out: Path, model: Checkpoint, paths: Sequence[Path], result: ProjectedImages, settings: dict
) -> None:
    """Write the projection directory ``out`` (see the module docstring); ``settings`` are recorded."""
    out.mkdir(parents=True, exist_ok=True)
    stems = [p.stem for p in paths]
    for column, images in result.images.items():
        if column != "target":
            suffix = "" if column == "projection" else f"_{column}"
            save_images(images, out / "images", [f"{stem}{suffix}.png" for stem in stems])
    metadata = {
        "model": model.identity,
        "model_path": str(model.path),
        "images": json.dumps([{"name": p.name, "sha256": file_sha256(p)} for p in paths]),
        "settings": json.dumps(settings),
    }
    with atomic_path(out / PROJECTION_FILE) as tmp:
        save_file(result.tensors, str(tmp), metadata=metadata)
    with atomic_path(out / "results.csv") as tmp:
        result.table.to_csv(tmp, index=False, float_format="%.4f")
    grid = torch.stack(list(result.images.values()), dim=1).flatten(0, 1)  # (N * columns, C, R, R), row by row
    save_grid(grid, out / "figure.png", columns=len(result.images), padding=2)


def read_projection(directory: Path, model: Checkpoint, metric: str) -> tuple[Tensor, Tensor, list[str]]:
    """Targets (N, C, R, R) in [-1, 1], the ``metric``'s sequences (N, G) and the image names.

    Raises:
        UserError: not a projection directory, made from another model, or made from a mapping model.
    """
    path = Path(directory) / PROJECTION_FILE
    if not path.is_file():
        raise UserError(f"--projection {directory}: no {PROJECTION_FILE}; make one with `genomekit project`")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as error:
        raise UserError(f"--projection {directory}: {PROJECTION_FILE} is unreadable ({type(error).__name__})") from None
    if metadata.get("model") != model.identity:
        raise UserError(
            f"--projection {directory} was made with model {metadata.get('model', '?')}, not with {model.name} "
            f"({model.identity}); project the images with this model"
        )
    if f"sequences_{metric}" not in tensors:
        raise UserError(f"--projection {directory} has no {metric} sequences (a mapping-network projection?)")
    targets = tensors["targets"].float() / 127.5 - 1
    names = [entry["name"] for entry in json.loads(metadata.get("images", "[]"))]
    return targets, tensors[f"sequences_{metric}"].long(), names


def insert_images(
    model: Checkpoint,
    names: Sequence[str],
    targets: Tensor,
    sequences: Tensor,
    out: Path,
    config: InsertionConfig,
    distance: nn.Module | None,
    *,
    provenance: dict,
    seed: int,
    device: str = "cpu",
    on_step: Callable[[int, float, float], object] | None = None,
) -> pd.DataFrame:
    """Insert ``targets`` at ``sequences``, write the tuned model to ``out``, return the per-image table.

    Args:
        model: a Genome checkpoint.
        names: one name per image (for the table and the record).
        targets: (N, C, R, R) images in [-1, 1].
        sequences: (N, G) where to insert them (usually their nearest-variant sequences).
        provenance: recorded in the new checkpoint beside the per-image results (how the sequences
            were found, the images' sha256s).
    """
    G = model.generator(device)
    D = model.discriminator(device) if model.has_discriminator else None
    result = insert(G, sequences, targets, config, distance, torch.Generator().manual_seed(seed), on_step)
    before, after = fidelity(result.before, targets), fidelity(result.after, targets)
    table = pd.DataFrame(
        {
            "image": list(names),
            "sequence": [sequence_text(s) for s in sequences],
            "psnr_before": before["psnr"].numpy(),
            "psnr_after": after["psnr"].numpy(),
            "ssim_before": before["ssim"].numpy(),
            "ssim_after": after["ssim"].numpy(),
        }
    )
    record = {
        **provenance,
        "source_model": model.identity,
        "source_path": str(model.path),
        "settings": {**asdict(config), "total_steps": config.total_steps(len(targets)), "seed": seed},
        "images": table.to_dict(orient="records"),
    }
    save_inference_checkpoint(out, result.G, D, extra={"insertion": json.dumps(record)})
    return table
