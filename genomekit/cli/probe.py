"""Command: ``probe``: StyleGenes Table 2, attribute presence predicted from latent codes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import (
    Device,
    Seed,
    check_positive,
    check_replaceable_dir,
    command,
    progress_bars,
    resolve_device,
    setup_logging,
    split_names,
    staged_output,
)


@command(app, "probe", aliases={"--attributes": "--attr"})
def probe_command(
    classifiers: Annotated[
        str,
        typer.Option(
            help="Classifier set directory (labels the generated images), or 'default' (shipped, by resolution)."
        ),
    ] = "default",
    genome: Annotated[
        Path | None, typer.Option(help="Checkpoint of a model trained with --latent genome, or 'default'.")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="Checkpoint of a model trained with --latent mapping, or 'default-mapping'.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Directory for probes.csv, probes.md, probes.png, probes.json (replaced).")
    ] = None,
    samples: Annotated[int, typer.Option(help="Codes sampled per model (the paper: 50000).")] = 50_000,
    attr: Annotated[
        list[str] | None, typer.Option(help="Attribute to probe (repeatable, or comma-separated; default: all).")
    ] = None,
    latent_metrics: Annotated[
        bool, typer.Option("--latent-metrics/--no-latent-metrics", help="Also linear separability, MIG, SAP and DCI.")
    ] = False,
    separability_samples: Annotated[
        int | None, typer.Option(help="Samples for linear separability (StyleGAN: 200000); default --samples.")
    ] = None,
    dci_method: Annotated[str, typer.Option(help="DCI importances: 'linear' (fast) or 'forest'.")] = "linear",
    hidden: Annotated[int, typer.Option(help="Hidden units of each attribute's MLP.")] = 256,
    epochs: Annotated[int, typer.Option(help="Most training epochs per probe (early stopping on validation).")] = 40,
    batch: Annotated[int, typer.Option(help="Images per generator forward; does not change the result.")] = 128,
    seed: Seed = 0,
    device: Device = "auto",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    precision: Annotated[
        str,
        typer.Option(
            help="fp32 (exact), bf16 (autocast generation and labelling, CPU or CUDA; ~0.6% of labels flip) "
            "or fp16 (CUDA); the probes themselves train in float32."
        ),
    ] = "fp32",
) -> None:
    """Predict each attribute's presence from the latent code of generated images, per model (Table 2).

    Samples codes from each model, generates, labels the images with the classifier set (p > 0.5),
    splits 80/10/10 and fits one MLP per attribute on w (genome: the concatenated variants; mapping:
    the mapping network's output), plus a logistic probe on the genome's one-hot gene sequence.
    Prints test accuracy beside the majority-class baseline. Example:

        genomekit probe --genome runs/genome/checkpoint.safetensors --mapping runs/mapping/checkpoint.safetensors
            --classifiers default --samples 50000 --out probes/ --latent-metrics
    """
    from classifiers import attribute_indices, load_classifier_set
    from genomekit.errors import UserError
    from genomekit.precision import check_precision, configure_backends
    from genomekit.probes import ProbeConfig, probe_models, write_probe_report
    from genomekit.training import load_generator

    setup_logging()
    if genome is None and mapping is None:
        raise UserError("give --genome CKPT and/or --mapping CKPT")
    for value, flag in ((batch, "--batch"), (hidden, "--hidden"), (epochs, "--epochs")):
        check_positive(value, flag)
    if dci_method not in ("linear", "forest"):
        raise UserError(f"--dci-method must be 'linear' or 'forest', got {dci_method!r}")
    if out is not None:
        check_replaceable_dir(out, "probe")  # before the work, so a bad --out does not lose it
    try:
        config = ProbeConfig(
            samples=samples,
            hidden=hidden,
            epochs=epochs,
            latent_metrics=latent_metrics,
            separability_samples=separability_samples,
            dci_method=dci_method,
            generate_batch=batch,
            seed=seed,
            precision=precision,
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    device = resolve_device(device)
    check_precision(precision, device)
    configure_backends(device, exact=precision == "fp32")  # fp32's help promises exact float32
    models = {
        kind: load_generator(path, device=device) for kind, path in (("genome", genome), ("mapping", mapping)) if path
    }
    resolution = next(iter(models.values())).config.resolution
    classifier = load_classifier_set(classifiers, device=device, resolution=resolution)
    names = split_names(attr)
    columns = attribute_indices(",".join(names), classifier.attribute_names) if names else None
    with progress_bars(progress) as make_bar:
        report = probe_models(models, classifier, config, columns=columns, progress=make_bar)
    typer.echo(report.markdown())
    if out is not None:
        with staged_output(out, "probe") as tmp:
            written = write_probe_report(report, tmp)
        for path in written:
            typer.echo(f"wrote {out / path.name}")
