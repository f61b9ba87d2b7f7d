"""Command: ``demo``, StyleGenes end to end on the shipped model in a few minutes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import (
    INTERRUPTED,
    Device,
    Seed,
    check_output_dir,
    check_positive,
    command,
    parse_temperatures,
    resolve_device,
    setup_logging,
    split_names,
    stop_on_ctrl_c,
)


@command(app, "demo")
def demo_command(
    out: Annotated[Path, typer.Option(help="Directory for the statistics, report and samples.")] = Path("out/demo"),
    samples: Annotated[
        int, typer.Option(help="Gene sequences for the statistics (~5 min per 100,000 on 2 CPU cores; paper: 500,000).")
    ] = 100_000,
    model: Annotated[str, typer.Option(help="Genome checkpoint, or 'default' (the shipped one).")] = "default",
    classifiers: Annotated[
        str, typer.Option(help="Classifier set directory, or 'default' (the shipped set for the model's resolution).")
    ] = "default",
    attr: Annotated[
        list[str] | None, typer.Option(help="Attributes for conditional samples (repeatable; default: 3).")
    ] = None,
    temps: Annotated[str, typer.Option(help="Comma-separated temperatures for the conditional samples.")] = "1.0,0.5",
    seed: Seed = 0,
    device: Device = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """StyleGenes end to end on the shipped synthetic-faces model: collect statistics, write the genome
    report, and sample three attributes (and their absence) at two temperatures. Re-running resumes.

    Example: genomekit demo --out out/demo --samples 100000
    """
    from analysis.demo import DEFAULT_ATTRIBUTES, check_demo_model, run_demo
    from classifiers import load_classifier_set
    from genomekit.training import load_checkpoint

    setup_logging()
    temperatures = parse_temperatures(temps)
    check_positive(samples, "--samples")
    check_output_dir(out)
    device = resolve_device(device)
    checkpoint = load_checkpoint(model)
    check_demo_model(checkpoint)
    classifier_set = load_classifier_set(classifiers, device, resolution=checkpoint.generator_config.resolution)
    stop = threading.Event()
    with stop_on_ctrl_c(stop):
        result = run_demo(
            out,
            model=checkpoint,
            classifiers=classifier_set,
            samples=samples,
            attributes=split_names(attr) or DEFAULT_ATTRIBUTES,
            temperatures=temperatures,
            seed=seed,
            device=device,
            stop=stop,
            progress=progress,
            say=typer.echo,
        )
    if result.interrupted:
        typer.echo(INTERRUPTED, err=True)
        raise typer.Exit(130)
    typer.echo("")
    typer.echo(f"{'attribute':<20} {'requested':<9} {'T':>4} {'conditional':>11} {'unconditional':>13}")
    for r in result.table.itertuples():
        typer.echo(
            f"{r.attribute:<20} {r.requested:<9} {r.temperature:>4g} {r.conditional:>11.0%} {r.unconditional:>13.0%}"
        )
    typer.echo("")
    typer.echo(f"report:  {result.report / 'index.html'} (polar plot: {result.report / 'polar.png'})")
    typer.echo(f"samples: {result.out / 'samples'}/<attribute>_T<t>/grid.png")
    typer.echo(f"summary: {result.out / 'summary.md'}")
