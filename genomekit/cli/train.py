"""`genomekit train`: train a Genome (or mapping-network) StyleGAN2 generator on an image dataset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import Device, Seed, command, resolve_device, setup_logging
from genomekit.errors import UserError


@command(app, "train")
def train_command(
    data: Annotated[Path, typer.Option(help="Image folder or zip (StyleGAN layout).")],
    out: Annotated[Path, typer.Option(help="Run directory for checkpoint, grids and metrics.")],
    latent: Annotated[
        str, typer.Option(help="Latent source: 'genome' (StyleGenes) or 'mapping' (baseline).")
    ] = "genome",
    genes: Annotated[int, typer.Option(help="G, genes in the genome.")] = 32,
    variants: Annotated[int, typer.Option(help="V, variants per gene.")] = 256,
    gene_length: Annotated[int, typer.Option(help="D, entries per variant; w has G*D entries.")] = 8,
    resolution: Annotated[int, typer.Option(help="Image resolution; must equal the dataset's.")] = 64,
    batch: Annotated[int, typer.Option(help="Global batch size (split across processes).")] = 32,
    kimg: Annotated[float, typer.Option(help="Train until D has seen this many thousand real images.")] = 200,
    snap: Annotated[float, typer.Option(help="Checkpoint, sample grid and metrics every this many kimg.")] = 10,
    channel_base: Annotated[int, typer.Option(help="Feature maps = channel_base / resolution ...")] = 2048,
    channel_max: Annotated[int, typer.Option(help="... capped at channel_max.")] = 128,
    mapping_layers: Annotated[int, typer.Option(help="Mapping-network depth (baseline only).")] = 8,
    g_lr: Annotated[float, typer.Option(help="Generator learning rate.")] = 0.002,
    d_lr: Annotated[float, typer.Option(help="Discriminator learning rate.")] = 0.002,
    r1_gamma: Annotated[float | None, typer.Option(help="R1 weight (default: 0.0002 * res^2 / batch).")] = None,
    pl_weight: Annotated[float, typer.Option(help="Path-length regularisation weight (0 = off).")] = 0.0,
    style_mixing: Annotated[float, typer.Option(help="Probability of mixing two codes at a random layer.")] = 0.9,
    augment: Annotated[str, typer.Option(help="Differentiable augmentation, e.g. 'color,translation,cutout'.")] = "",
    noise: Annotated[bool, typer.Option(help="Per-pixel noise inputs in the generator.")] = True,
    conv_clamp: Annotated[
        float | None, typer.Option(help="Clamp convolution outputs to +-X (NVlabs' configs: 256; default off).")
    ] = None,
    fp16_res: Annotated[
        int, typer.Option(help="Run the N highest resolutions in float16 on CUDA (NVlabs: 4, with --conv-clamp 256).")
    ] = 0,
    network_version: Annotated[
        int,
        typer.Option(help="2: NVlabs' StyleGAN2 networks; 1: genomekit 0.1's resampling (older checkpoints)."),
    ] = 2,
    seed: Seed = 0,
    device: Device = "auto",
    workers: Annotated[int, typer.Option(help="Data-loading worker processes.")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its checkpoint.")] = False,
) -> None:
    """Train a StyleGAN2 generator whose latent is a Genome (or the mapping-network baseline).

    Example:

        genomekit train --data faces64.zip --out runs/genome --latent genome --kimg 200

    Multi-GPU / multi-process: torchrun --nproc-per-node 4 -m genomekit train --data ... --out ...
    """
    from genomekit.networks import DiscriminatorConfig, GeneratorConfig
    from genomekit.training import TrainConfig, train

    setup_logging()
    dist_info, device = _init_distributed(resolve_device(device))
    try:
        config = TrainConfig(
            data=str(data),
            generator=GeneratorConfig(
                latent=latent,
                num_genes=genes,
                num_variants=variants,
                gene_length=gene_length,
                mapping_layers=mapping_layers,
                resolution=resolution,
                channel_base=channel_base,
                channel_max=channel_max,
                use_noise=noise,
                conv_clamp=conv_clamp,
                num_fp16_res=fp16_res,
                network_version=network_version,
            ),
            discriminator=DiscriminatorConfig(
                resolution=resolution,
                channel_base=channel_base,
                channel_max=channel_max,
                conv_clamp=conv_clamp,
                num_fp16_res=fp16_res,
                network_version=network_version,
            ),
            batch_size=batch,
            total_kimg=kimg,
            snapshot_kimg=snap,
            g_lr=g_lr,
            d_lr=d_lr,
            r1_gamma=r1_gamma,
            pl_weight=pl_weight,
            style_mixing=style_mixing,
            augment=augment,
            seed=seed,
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    try:
        path = train(config, out, resume=resume, device=device, dist_info=dist_info, workers=workers)
    finally:
        if dist_info.world_size > 1:
            import torch.distributed as dist

            dist.destroy_process_group()
    if dist_info.is_main:
        typer.echo(f"done: {path}")


def _init_distributed(device: str):
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); one process otherwise."""
    import torch
    import torch.distributed as dist

    from genomekit.training import Distributed

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Distributed(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return Distributed(rank=rank, world_size=world), device


@command(app, "export")
def export_command(
    checkpoint: Annotated[Path, typer.Argument(help="Training (or inference) checkpoint.")],
    out: Annotated[Path, typer.Argument(help="The inference checkpoint to write (.safetensors).")],
    half: Annotated[bool, typer.Option("--half/--float32", help="Store weights in float16 (half the size).")] = True,
) -> None:
    """Write the EMA generator and the discriminator of a checkpoint as a small inference checkpoint
    (what every analysis command reads; the optimiser state and the raw generator are left out).

    Example: genomekit export runs/genome/checkpoint.safetensors genome-fp16.safetensors
    """
    from genomekit.training.checkpoint import checkpoint_metadata, export_inference_checkpoint, model_identity

    export_inference_checkpoint(checkpoint, out, half=half)
    progress = checkpoint_metadata(out).get("progress", {})
    kimg = progress.get("nimg", 0) / 1000
    typer.echo(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, {kimg:g} kimg, identity {model_identity(out)})")
