"""Command: ``import-nvlabs`` (NVlabs StyleGAN2 pickles to genomekit checkpoints)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import command
from genomekit.errors import UserError


def _check_output(out: Path) -> None:
    if out.exists():
        raise UserError(f"--out {out} already exists; choose another path or remove it first")
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise UserError(f"cannot write {out}: {parent} is not a directory")


@command(app, "import-nvlabs")
def import_nvlabs(
    pickle_path: Annotated[
        Path, typer.Argument(metavar="PKL", help="NVlabs pickle: a training snapshot or a generator.")
    ],
    out: Annotated[Path, typer.Argument(help="The genomekit checkpoint to write (.safetensors).")],
    half: Annotated[bool, typer.Option("--half/--float32", help="Store weights in float16.")] = False,
) -> None:
    """Convert an NVlabs StyleGAN2 pickle into a genomekit inference checkpoint, without running any code
    stored in the pickle.

    Reads stylegan3 (--cfg stylegan2) and stylegan2-ada-pytorch snapshots (G, D, G_ema) or bare generators,
    with the mapping network or the StyleGenes Genome of the paper's Appendix H as latent, and
    TensorFlow StyleGAN2 pickles (G, D, Gs). The checkpoint holds G_ema (and D where the pickle has one)
    and computes NVlabs' G_ema(z, None, noise_mode='const', force_fp32=True). StyleGAN3 -T/-R and
    conditional networks are refused with one line.

    Example: genomekit import-nvlabs network-snapshot-010000.pkl ffhq256.safetensors
    """
    from genomekit.interop.nvlabs import read_nvlabs_pickle
    from genomekit.training.checkpoint import load_generator, model_identity, save_inference_checkpoint

    if not pickle_path.is_file():
        raise UserError(f"pickle not found: {pickle_path}")
    _check_output(out)
    model = read_nvlabs_pickle(pickle_path)
    try:
        save_inference_checkpoint(out, model.G, model.D, extra={"source": json.dumps(model.source)}, half=half)
    except OSError as error:
        raise UserError(f"cannot write {out}: {error.strerror or error}") from None
    G = load_generator(out)
    genome = G.genome_shape
    latent = f"Genome {genome[0]} genes x {genome[1]} variants x {genome[2]}" if genome else "mapping network"
    typer.echo(
        f"wrote {out}: {model.source['generator']} of {pickle_path.name} ({model.source['repository']}), "
        f"{G.img_resolution} px, w {G.w_dim}, {latent}, "
        f"{'with' if model.D is not None else 'without'} discriminator, identity {model_identity(out)}"
    )
