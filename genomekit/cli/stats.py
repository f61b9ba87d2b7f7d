"""Commands: ``collect-stats`` (the Monte-Carlo pipeline) and ``stats info``."""

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
    option_or_positional,
    resolve_device,
    setup_logging,
    stop_on_ctrl_c,
)
from genomekit.errors import UserError

stats_app = typer.Typer(help="Inspect statistics directories made by collect-stats.", no_args_is_help=True)
app.add_typer(stats_app, name="stats")


def _load_inputs(model: Path, classifiers: str, device: str):
    """G_ema, the classifier set, D and the model identity, on ``device`` (the checkpoint read once)."""
    from classifiers import load_classifier_set
    from genomekit.training.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(model)
    generator = checkpoint.generator(device)
    if generator.latent_kind != "genome":
        raise UserError(
            f"--model {model} has a mapping-network latent and no genes; collect-stats needs a model "
            "trained with --latent genome"
        )
    return (
        generator,
        load_classifier_set(classifiers, device=device, resolution=generator.config.resolution),
        checkpoint.discriminator(device),
        checkpoint.identity,
    )


def _batch_size(value: str) -> int | str:
    """``--batch``: 'auto' or a whole number (CollectConfig checks that it is positive)."""
    text = value.strip().lower()
    if text == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise UserError(f"--batch must be 'auto' or a positive integer, got {value!r}") from None


@command(app, "collect-stats", aliases={"--batch-size": "--batch"})
def collect_stats_command(
    model: Annotated[
        Path, typer.Option(help="Genome GAN checkpoint (training or inference), or 'default' (the shipped one).")
    ],
    out: Annotated[Path, typer.Option(help="Stats directory to create or resume.")],
    classifiers: Annotated[
        str, typer.Option(help="Classifier set directory, or 'default' (the shipped set for the model's resolution).")
    ] = "default",
    samples: Annotated[int, typer.Option(help="Gene sequences to sample in total.")] = 500_000,
    batch: Annotated[
        str,
        typer.Option(
            help="Images per forward pass, or 'auto': on CUDA the largest power of two up to 256 that fits "
            "the free memory (measured with a trial batch), 256 on the CPU. Does not change the result."
        ),
    ] = "auto",
    seed: Seed = 0,
    device: Device = "auto",
    resume: Annotated[bool, typer.Option(help="Require an existing stats directory and continue it.")] = False,
    chunk_size: Annotated[int, typer.Option(help="Samples per shard; fixed for a stats directory.")] = 4096,
    min_count: Annotated[int, typer.Option(help="Report (gene, variant) pairs seen fewer times.")] = 50,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    precision: Annotated[
        str,
        typer.Option(
            help="fp32 (exact), bf16 (autocast, CPU or CUDA; probabilities move by ~1e-3) or fp16 (CUDA); "
            "fixed for a stats directory."
        ),
    ] = "fp32",
    compile_networks: Annotated[
        bool,
        typer.Option(
            "--compile",
            help="torch.compile the generator, classifier set and discriminator forward passes (the same "
            "statistics); the first batches are slow while it compiles, and each new batch size compiles "
            "again, so give an explicit --batch (--batch auto compiles once per trial size). Falls back to "
            "eager with a warning where it cannot run.",
        ),
    ] = False,
) -> None:
    """Sample gene sequences, generate, score with the classifier set and the discriminator, and
    stream the rows into Parquet shards while accumulating p(attribute | gene = variant) sums.

    Rerunning the same command (or adding --resume) continues an interrupted run; the result is the
    same as an uninterrupted one. Ctrl-C stops after the current shard. Several processes or GPUs:

        torchrun --nproc-per-node 4 -m genomekit collect-stats --model ... --out STATS

    Example:

        genomekit collect-stats --model default --classifiers default --samples 500000 --batch 256 --out stats/ --seed 0
    """
    from genomekit.compile import compile_module
    from genomekit.stats.collect import CollectConfig, collect_stats, finalize_stats

    setup_logging()
    check_output_dir(out)
    from genomekit.distributed import any_rank, from_environment, join, leave, on_main
    from genomekit.precision import check_precision, configure_backends

    dist_info = from_environment()  # torchrun's variables: the CLI reads them, the library takes them
    config = CollectConfig(
        out=out,
        samples=samples,
        batch_size=_batch_size(batch),
        chunk_size=chunk_size,
        seed=seed,
        resume=resume,
        min_count=min_count,
        precision=precision,
    )
    device = join(dist_info, resolve_device(device))  # cuda:LOCAL_RANK under torchrun
    check_precision(precision, device)
    configure_backends(device, exact=precision == "fp32")  # fp32's help promises exact float32
    rank, world_size = dist_info.rank, dist_info.world_size
    stop = threading.Event()
    try:
        generator, classifier_set, discriminator, identity = _load_inputs(model, classifiers, device)
        generator, classifier_set, discriminator = (
            compile_module(network, compile_networks) for network in (generator, classifier_set, discriminator)
        )
        with stop_on_ctrl_c(stop, once=dist_info.multi):
            result = collect_stats(
                config,
                generator=generator,
                classifiers=classifier_set,
                discriminator=discriminator,
                model_identity=identity,
                device=device,
                rank=rank,
                world_size=world_size,
                stop=stop,
                progress=progress and dist_info.is_main,
            )
            interrupted = any_rank(result.interrupted, dist_info, device)
            if dist_info.multi and not interrupted:
                on_main(dist_info, device, lambda: finalize_stats(out, min_count=min_count))
    except KeyboardInterrupt:
        leave(dist_info, wait=False)
        typer.echo(INTERRUPTED, err=True)
        raise typer.Exit(130) from None
    except BaseException:
        leave(dist_info, wait=False)
        raise
    leave(dist_info)
    if interrupted:
        typer.echo(INTERRUPTED, err=True)
        raise typer.Exit(130)
    if rank == 0:
        typer.echo(
            f"{out}: {samples:,} samples; this run generated {result.samples_generated:,} "
            f"at {result.samples_per_second:.1f} samples/s{' on rank 0' if world_size > 1 else ''}"
        )
        from genomekit.stats.info import describe_stats

        typer.echo(describe_stats(out, min_count))


@command(stats_app, "info")
def stats_info_command(
    stats: Annotated[Path | None, typer.Option("--stats", help="Stats directory made by collect-stats.")] = None,
    min_count: Annotated[int, typer.Option(help="Report (gene, variant) pairs seen fewer times.")] = 50,
    stats_positional: Annotated[Path | None, typer.Argument(hidden=True, metavar="[STATS]")] = None,
) -> None:
    """Samples, genome shape, attributes, under-sampled variants, shard health and the throughput of the runs.

    Example: genomekit stats info --stats out/demo/stats
    """
    from genomekit.stats.info import describe_stats

    stats = option_or_positional(stats, stats_positional, "--stats", "the statistics directory")
    check_positive(min_count, "--min-count", 0)
    typer.echo(describe_stats(stats, min_count))
