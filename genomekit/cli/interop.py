"""Commands that turn other models into genomekit ones: ``import-nvlabs`` (NVlabs StyleGAN2 pickles) and
``genome-from-mapping`` (a Genome quantised from a mapping-network model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import (
    Device,
    Seed,
    check_output_file,
    command,
    option_or_positional,
    resolve_device,
    setup_logging,
)
from genomekit.errors import UserError


def _check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} already exists; choose another path or remove it first")
    check_output_file(out)


@command(app, "import-nvlabs")
def import_nvlabs(
    pickle_path: Annotated[
        Path, typer.Argument(metavar="PKL", help="NVlabs pickle: a training snapshot or a generator.")
    ],
    out: Annotated[Path | None, typer.Option(help="The genomekit checkpoint to write (.safetensors).")] = None,
    half: Annotated[bool, typer.Option("--half/--float32", help="Store weights in float16.")] = False,
    out_positional: Annotated[Path | None, typer.Argument(hidden=True, metavar="[OUT]")] = None,
) -> None:
    """Convert an NVlabs StyleGAN2 pickle into a genomekit inference checkpoint, without running any code
    stored in the pickle.

    Reads stylegan3 (--cfg stylegan2) and stylegan2-ada-pytorch snapshots (G, D, G_ema) or bare generators,
    with the mapping network or the StyleGenes Genome of the paper's Appendix H as latent, and
    TensorFlow StyleGAN2 pickles (G, D, Gs). The checkpoint holds G_ema (and D where the pickle has one)
    and computes NVlabs' G_ema(z, None, noise_mode='const', force_fp32=True). StyleGAN3 -T/-R and
    conditional networks are refused with one line.

    Example: genomekit import-nvlabs network-snapshot-010000.pkl --out ffhq256.safetensors
    """
    from genomekit.interop.nvlabs import read_nvlabs_pickle
    from genomekit.training.checkpoint import load_generator, model_identity, save_inference_checkpoint

    out = option_or_positional(out, out_positional, "--out", "the checkpoint to write")
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


@command(app, "genome-from-mapping")
def genome_from_mapping_command(
    model: Annotated[Path, typer.Option(help="Mapping-network checkpoint (e.g. 'default-mapping' or an import).")],
    genes: Annotated[int, typer.Option(help="G, genes; the gene length is w_dim / G.")],
    variants: Annotated[int, typer.Option(help="V, variants (k-means centroids) per gene.")],
    out: Annotated[Path, typer.Option(help="The Genome checkpoint to write (.safetensors).")],
    rotation: Annotated[
        str, typer.Option(help="'pca' (decorrelate w first), 'ica' (FastICA: independent components) or 'none'.")
    ] = "pca",
    samples: Annotated[int, typer.Option(help="w samples drawn from the mapping network.")] = 100_000,
    balanced: Annotated[
        bool, typer.Option("--balanced/--unbalanced", help="Equal-size clusters: each variant carries equal mass.")
    ] = False,
    finetune_kimg: Annotated[
        float, typer.Option(help="Then fine-tune genome and synthesis adversarially for this many kimg (0 = off).")
    ] = 0.0,
    data: Annotated[Path | None, typer.Option(help="Training images for --finetune-kimg.")] = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Fine-tune run directory (default: OUT without suffix + '-finetune').")
    ] = None,
    batch: Annotated[int, typer.Option(help="Fine-tune batch size.")] = 32,
    seed: Seed = 0,
    device: Device = "auto",
) -> None:
    """Turn a trained mapping-network StyleGAN2 into a StyleGenes Genome model by product quantisation of W.

    Samples w from the mapping network, rotates it (PCA or ICA, folded into the synthesis affines so the
    result is a plain Genome model), clusters each gene's chunk into V centroids with k-means
    (genomekit.quantize: k-means++ and Lloyd in PyTorch, on the GPU where one is used), and writes a
    Genome checkpoint with the same synthesis network and D. With --finetune-kimg K --data DATA it then
    trains genome and synthesis for K kimg from that start (resumable: rerun the same command).

    Example: genomekit genome-from-mapping --model default-mapping --genes 32 --variants 256 --out genome.safetensors
    """
    import json

    from genomekit.genome_from_mapping import QuantizeConfig, genome_from_mapping, summary_lines
    from genomekit.training.checkpoint import (
        checkpoint_metadata,
        export_inference_checkpoint,
        load_discriminator,
        load_generator,
        model_identity,
        save_inference_checkpoint,
    )

    setup_logging()
    try:
        config = QuantizeConfig(
            num_genes=genes, num_variants=variants, rotation=rotation, samples=samples, balanced=balanced, seed=seed
        )
    except ValueError as error:
        raise UserError(str(error).replace("num_variants", "--variants").replace("samples", "--samples")) from None
    if finetune_kimg < 0:
        raise UserError(f"--finetune-kimg must be >= 0, got {finetune_kimg}")
    if finetune_kimg > 0 and data is None:
        raise UserError("--finetune-kimg needs --data (the training images)")
    if data is not None and not data.exists():
        raise UserError(f"--data {data} does not exist")
    _check_output(out)
    device = resolve_device(device)
    source = load_generator(model, device=device)
    if source.latent_kind != "mapping":
        raise UserError(f"{model} has a Genome latent already; genome-from-mapping needs a mapping-network model")
    if source.w_dim % genes:
        raise UserError(f"--genes {genes} does not divide the model's w_dim {source.w_dim}")
    D = load_discriminator(model, device="cpu")
    provenance = {
        "kind": "genome-from-mapping",
        "source_identity": model_identity(model),
        "source": str(model),
        **{k: getattr(config, k) for k in ("num_genes", "num_variants", "rotation", "samples", "balanced", "seed")},
    }
    run = run_dir or out.with_name(out.stem + "-finetune")
    quantised = run / "quantised.safetensors" if finetune_kimg > 0 else out
    if finetune_kimg > 0 and quantised.is_file():
        typer.echo(f"reusing {quantised}")
    else:
        G, report = genome_from_mapping(source, config, progress=typer.echo)
        for line in summary_lines(report):
            typer.echo(line)
        provenance["quantisation"] = report.to_dict()
        try:
            save_inference_checkpoint(quantised, G, D, extra={"source": json.dumps(provenance)})
        except OSError as error:
            raise UserError(f"cannot write {quantised}: {error.strerror or error}") from None
    if finetune_kimg > 0:
        provenance = {
            **checkpoint_metadata(quantised)["source"],
            "finetune_kimg": finetune_kimg,
            "finetune_run": str(run),
        }
        trained = _finetune(quantised, D, data, run, finetune_kimg, batch, seed, device)
        export_inference_checkpoint(trained, out, half=False, extra={"source": json.dumps(provenance)})
    typer.echo(f"wrote {out} (identity {model_identity(out)})")


def _finetune(quantised: Path, D, data: Path, run: Path, kimg: float, batch: int, seed: int, device: str) -> Path:
    """Train the quantised model for ``kimg`` from its weights (resuming ``run`` where it holds a checkpoint)."""
    from genomekit.training import TrainConfig, train
    from genomekit.training.checkpoint import load_generator

    G = load_generator(quantised)
    try:
        config = TrainConfig(
            data=str(data),
            generator=G.config,
            discriminator=D.config,
            batch_size=batch,
            total_kimg=kimg,
            snapshot_kimg=min(kimg, 5.0),
            seed=seed,
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    resume = (run / "checkpoint.safetensors").is_file()
    return train(config, run, resume=resume, device=device, init_from=quantised)
