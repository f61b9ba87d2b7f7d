"""`genomekit train`: train a Genome (or mapping-network) StyleGAN2 generator on an image dataset."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import (
    EXIT_INTERRUPTED,
    Device,
    Seed,
    check_output_dir,
    check_output_file,
    command,
    given_options,
    option_or_positional,
    resolve_device,
    setup_logging,
    stop_on_ctrl_c,
)
from genomekit.errors import UserError

# command-line option -> the config fields it sets (dotted), for messages and for --resume
OPTION_FIELDS = {
    "data": ("data",),
    "latent": ("generator.latent",),
    "genes": ("generator.num_genes",),
    "variants": ("generator.num_variants",),
    "gene_length": ("generator.gene_length",),
    "resolution": ("generator.resolution", "discriminator.resolution"),
    "batch": ("batch_size",),
    "kimg": ("total_kimg",),
    "snap": ("snapshot_kimg",),
    "channel_base": ("generator.channel_base",),
    "channel_max": ("generator.channel_max",),
    "d_channel_base": ("discriminator.channel_base",),
    "d_channel_max": ("discriminator.channel_max",),
    "mbstd_group": ("discriminator.mbstd_group_size",),
    "mapping_layers": ("generator.mapping_layers",),
    "g_lr": ("g_lr",),
    "genome_lr_mult": ("genome_lr_mult",),
    "d_lr": ("d_lr",),
    "r1_gamma": ("r1_gamma",),
    "pl_weight": ("pl_weight",),
    "style_mixing": ("style_mixing",),
    "augment": ("augment",),
    "noise": ("generator.use_noise",),
    "conv_clamp": ("generator.conv_clamp", "discriminator.conv_clamp"),
    "fp16_res": ("generator.num_fp16_res", "discriminator.num_fp16_res"),
    "network_version": ("generator.network_version", "discriminator.network_version"),
    "seed": ("seed",),
    "precision": ("precision",),
}
FIELD_FLAGS: dict[str, str] = {}
for _option, _fields in OPTION_FIELDS.items():
    for _field in _fields:  # the first option that sets a field names it (--channel-base, not --d-channel-base)
        FIELD_FLAGS.setdefault(_field.split(".")[-1], "--" + _option.replace("_", "-"))
FIELD_FLAGS["use_noise"] = "--noise/--no-noise"


def _flag_message(error: ValueError) -> str:
    """A config ValueError ("num_genes must be ...") worded with the flag ("--genes must be ...")."""
    from genomekit.training import config_error_field

    field = config_error_field(error)
    text = str(error)
    if field in FIELD_FLAGS:
        return FIELD_FLAGS[field] + text[len(field) :]
    return text


@command(app, "train")
def train_command(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="Image folder or zip (StyleGAN layout).")],
    out: Annotated[Path, typer.Option(help="Run directory for checkpoint, grids and metrics.")],
    latent: Annotated[
        str, typer.Option(help="Latent source: 'genome' (StyleGenes) or 'mapping' (baseline).")
    ] = "genome",
    genes: Annotated[int, typer.Option(help="G, genes in the genome.")] = 32,
    variants: Annotated[int, typer.Option(help="V, variants per gene.")] = 256,
    gene_length: Annotated[int, typer.Option(help="D, entries per variant; w has G*D entries.")] = 8,
    resolution: Annotated[
        int | None, typer.Option(help="Image resolution; must equal the dataset's (default: the dataset's).")
    ] = None,
    batch: Annotated[int, typer.Option(help="Global batch size (split across processes).")] = 32,
    kimg: Annotated[float, typer.Option(help="Train until D has seen this many thousand real images.")] = 200,
    snap: Annotated[float, typer.Option(help="Checkpoint, sample grid and metrics every this many kimg.")] = 10,
    channel_base: Annotated[int, typer.Option(help="Feature maps = channel_base / resolution ...")] = 2048,
    channel_max: Annotated[int, typer.Option(help="... capped at channel_max.")] = 128,
    d_channel_base: Annotated[
        int | None, typer.Option(help="The discriminator's channel_base (default: --channel-base).")
    ] = None,
    d_channel_max: Annotated[
        int | None, typer.Option(help="The discriminator's channel_max (default: --channel-max).")
    ] = None,
    mbstd_group: Annotated[
        int,
        typer.Option(
            help="The discriminator's minibatch-stddev group: samples per group (NVlabs: 4; their CIFAR-10 "
            "configuration: 32); capped at each process's batch."
        ),
    ] = 4,
    mapping_layers: Annotated[int, typer.Option(help="Mapping-network depth (baseline only).")] = 8,
    g_lr: Annotated[float, typer.Option(help="Generator learning rate.")] = 0.002,
    genome_lr_mult: Annotated[
        float, typer.Option(help="The Genome's variants learn at --g-lr times this (the paper: 1; 0: frozen).")
    ] = 1.0,
    d_lr: Annotated[float, typer.Option(help="Discriminator learning rate.")] = 0.002,
    r1_gamma: Annotated[
        float, typer.Option(help="R1 weight (NVlabs' 'auto' heuristic: 0.0002 * res^2 / batch, 0.0064 at 32 px).")
    ] = 10.0,
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
    workers: Annotated[
        int | None,
        typer.Option(
            help="Data-loading worker processes (default: auto, min(4, CPUs - 1) on CUDA and 0 on the CPU, "
            "where the training step uses every core)."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run in --out from its checkpoint; only --data, --kimg and --snap may differ from the run."
        ),
    ] = False,
    health: Annotated[
        bool,
        typer.Option(
            help="At every snapshot add the run's health to metrics.jsonl: the genome's per-gene shares and FD, "
            "diversity and attribute-frequency gap on --health-classifiers features (see `genomekit train-report`)."
        ),
    ] = True,
    health_classifiers: Annotated[
        str, typer.Option(help="Classifier set for the health figures, or 'default' (by the resolution).")
    ] = "default",
    health_samples: Annotated[int, typer.Option(help="Samples (and real images) for the health figures.")] = 1024,
    keep_snapshots: Annotated[
        bool, typer.Option(help="Keep every snapshot's generator and D (float16) in --out/snapshots/.")
    ] = False,
    precision: Annotated[
        str,
        typer.Option(
            help="fp32, bf16 (autocast G and D, CPU or CUDA; losses, R1 and path length stay float32) or fp16 "
            "(autocast with loss scaling, CUDA); fixed for a run."
        ),
    ] = "fp32",
    deterministic: Annotated[
        bool,
        typer.Option(
            help="On CUDA: exact float32 (no TF32) and fixed cuDNN algorithms (no autotuning), for runs that "
            "repeat themselves; slower. No effect on the CPU."
        ),
    ] = False,
    compile_networks: Annotated[
        bool,
        typer.Option(
            "--compile",
            help="torch.compile G's synthesis and D's forward passes (R1 and path length stay eager); the first "
            "steps are slow while it compiles; falls back to eager with a warning where it cannot run.",
        ),
    ] = False,
) -> None:
    """Train a StyleGAN2 generator whose latent is a Genome (or the mapping-network baseline).

    Ctrl-C writes a checkpoint at the next step boundary and prints the command that continues.

    Example:

        genomekit train --data faces32.zip --out runs/genome --latent genome --kimg 200
        genomekit train --data faces64.zip --out runs/genome64 --device cuda --precision bf16 --compile

    Multi-GPU / multi-process: torchrun --nproc-per-node 4 -m genomekit train --data ... --out ...
    """
    from genomekit.distributed import from_environment, join, leave
    from genomekit.networks import DiscriminatorConfig, GeneratorConfig
    from genomekit.precision import check_precision, configure_backends
    from genomekit.training import (
        TrainConfig,
        TrainingInterrupted,
        dataset_resolution,
        run_config,
        train,
    )

    setup_logging()
    check_output_dir(out)
    for flag, value in (("--d-channel-base", d_channel_base), ("--d-channel-max", d_channel_max)):
        if value is not None and value < 1:
            raise UserError(f"{flag} must be a positive integer, got {value}")
    if workers is not None and workers < 0:
        raise UserError(f"--workers must be at least 0, got {workers}")
    device = resolve_device(device)
    given = given_options(ctx)
    saved = run_config(out) if resume else None
    if resolution is None:
        resolution = saved.generator.resolution if saved is not None else dataset_resolution(data)
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
                channel_base=channel_base if d_channel_base is None else d_channel_base,
                channel_max=channel_max if d_channel_max is None else d_channel_max,
                mbstd_group_size=mbstd_group,
                conv_clamp=conv_clamp,
                num_fp16_res=fp16_res,
                network_version=network_version,
            ),
            batch_size=batch,
            total_kimg=kimg,
            snapshot_kimg=snap,
            g_lr=g_lr,
            genome_lr_mult=genome_lr_mult,
            d_lr=d_lr,
            r1_gamma=r1_gamma,
            pl_weight=pl_weight,
            style_mixing=style_mixing,
            augment=augment,
            seed=seed,
            precision=precision,
        )
    except ValueError as error:
        raise UserError(_flag_message(error)) from None
    if saved is not None:
        config = _resume_config(saved, config, given)
    if health_samples < 2:
        raise UserError(f"--health-samples must be at least 2, got {health_samples}")
    check_precision(config.precision, device)  # fp16 needs CUDA, a resumed fp16 run too
    dist_info = from_environment()
    device = join(dist_info, device)  # cuda:LOCAL_RANK under torchrun
    configure_backends(device, exact=deterministic)
    monitor = None
    if health and dist_info.is_main:
        from classifiers import load_classifier_set
        from genomekit.training.health import HealthMonitor

        sets = load_classifier_set(health_classifiers, device=device, resolution=config.generator.resolution)
        monitor = HealthMonitor(sets, samples=health_samples)
    stop = threading.Event()
    try:
        with stop_on_ctrl_c(stop, "the current step (a checkpoint is written)", once=dist_info.multi):
            path = train(
                config,
                out,
                resume=resume,
                device=device,
                dist_info=dist_info,
                workers=workers,
                compile_networks=compile_networks,
                stop=stop,
                health=monitor,
                keep_snapshots=keep_snapshots,
            )
    except TrainingInterrupted as interrupted:
        leave(dist_info, wait=False)
        if dist_info.is_main:
            typer.echo(
                f"{interrupted}; continue with: genomekit train --resume --data {config.data} --out {out}", err=True
            )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BaseException:
        leave(dist_info, wait=False)
        raise
    leave(dist_info)
    if dist_info.is_main:
        typer.echo(f"done: {path}")


def _resume_config(saved, requested, given: set[str]):
    """The run's config with the --data/--kimg/--snap the user gave; other differing flags are refused."""
    from genomekit.training import RESUMABLE_FIELDS, resume_conflicts

    fields = {field for option in given if option in OPTION_FIELDS for field in OPTION_FIELDS[option]}
    conflicts = resume_conflicts(saved, requested, fields)
    if conflicts:
        flag_of = {field: option for option, names in OPTION_FIELDS.items() for field in names}
        seen, parts = set(), []
        for field, old, new in conflicts:
            flag = "--" + flag_of.get(field, field).replace("_", "-")
            if flag not in seen:
                seen.add(flag)
                parts.append(f"{flag} is {old!r} in the run, {new!r} requested")
        raise UserError(
            f"--resume continues the run in its own settings; {'; '.join(parts)} "
            "(only --data, --kimg and --snap may change; start a new --out for other settings)"
        )
    changes = {field: getattr(requested, field) for field in RESUMABLE_FIELDS if field in fields}
    return saved.replace(**changes) if changes else saved


@command(app, "export")
def export_command(
    checkpoint: Annotated[Path, typer.Argument(help="Training (or inference) checkpoint.")],
    out: Annotated[Path | None, typer.Option(help="The inference checkpoint to write (.safetensors).")] = None,
    half: Annotated[bool, typer.Option("--half/--float32", help="Store weights in float16 (half the size).")] = True,
    out_positional: Annotated[Path | None, typer.Argument(hidden=True, metavar="[OUT]")] = None,
) -> None:
    """Write the EMA generator and the discriminator of a checkpoint as a small inference checkpoint
    (what every analysis command reads; the optimiser state and the raw generator are left out).

    Example: genomekit export runs/genome/checkpoint.safetensors --out genome-fp16.safetensors
    """
    from genomekit.training.checkpoint import (
        checkpoint_metadata,
        export_inference_checkpoint,
        model_identity,
        resolve_model,
    )

    out = option_or_positional(out, out_positional, "--out", "the checkpoint to write")
    check_output_file(out, inputs=(resolve_model(checkpoint),))
    export_inference_checkpoint(checkpoint, out, half=half)
    progress = checkpoint_metadata(out).get("progress", {})
    kimg = progress.get("nimg", 0) / 1000
    typer.echo(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB, {kimg:g} kimg, identity {model_identity(out)})")


@command(app, "average")
def average_command(
    run: Annotated[Path, typer.Argument(help="A run directory of `genomekit train --keep-snapshots`.")],
    out: Annotated[Path, typer.Option(help="The inference checkpoint to write (.safetensors).")],
    from_kimg: Annotated[float, typer.Option(help="First snapshot of the window (kimg).")],
    to_kimg: Annotated[
        float | None, typer.Option(help="Last snapshot of the window (kimg; default: the last).")
    ] = None,
    half: Annotated[bool, typer.Option("--half/--float32", help="Store weights in float16 (half the size).")] = True,
) -> None:
    """Average the generator weights of a run's kept snapshots from --from-kimg to --to-kimg into one
    model (a uniform moving average over the window, far longer than G_ema's; D is the last
    snapshot's). Every analysis command reads the result like an export.

    Example: genomekit average runs/genome --from-kimg 240 --out genome-avg.safetensors
    """
    from genomekit.training.averaging import average_snapshots, select_snapshots
    from genomekit.training.checkpoint import model_identity

    if not run.is_dir():
        raise UserError(f"run directory not found: {run}")
    if from_kimg < 0 or (to_kimg is not None and to_kimg < from_kimg):
        raise UserError(f"the window must have 0 <= --from-kimg <= --to-kimg, got {from_kimg:g} to {to_kimg}")
    paths = select_snapshots(run, from_kimg, to_kimg)
    check_output_file(out, inputs=tuple(paths))
    record = average_snapshots(paths, out, half=half)
    first, last = record["kimg"][0], record["kimg"][-1]  # select_snapshots gives kept snapshots: named by kimg
    typer.echo(f"wrote {out}: the average of {record['count']} snapshots ({first:g}-{last:g} kimg), D of {paths[-1].name}; "
               f"identity {model_identity(out)}")  # fmt: skip


@command(app, "train-report")
def train_report_command(
    run: Annotated[Path, typer.Argument(help="A run directory of `genomekit train` (its --out).")],
    out: Annotated[Path | None, typer.Option(help="Where to write train_report.png and .md [RUN].")] = None,
) -> None:
    """Plot a run's health over training: losses, FD on classifier features, diversity, the largest
    attribute-frequency gap and each gene's share of the style variance (from metrics.jsonl).

    Example: genomekit train-report runs/genome
    """
    from analysis.train_report import write_train_report

    if out is not None:
        check_output_dir(out)
    report = write_train_report(run, out)
    last = report.rows.iloc[-1]
    shown = [
        f"{name} {last[name]:.4g}" for name in ("fd_cls", "diversity", "freq_gap", "top_gene_share") if name in last
    ]
    typer.echo(f"{len(report.rows)} snapshots to {last['kimg']:g} kimg; last: {', '.join(shown) or 'losses only'}")
    typer.echo(f"wrote {report.figure} and {report.summary}")
