"""Commands: ``project`` (real images into W+, nearest variants) and ``insert`` (PTI codebook insertion)."""

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
    command,
    progress_bars,
    resolve_device,
    staged_output,
)
from genomekit.errors import UserError

Model = Annotated[Path, typer.Option(help="Checkpoint (training or inference), or 'default' (the shipped one).")]
Images = Annotated[
    list[Path] | None,
    typer.Option("--image", help="Image file (square, at the model's resolution), or a directory of them. Repeatable."),
]
Perceptual = Annotated[
    str,
    typer.Option(
        help="Perceptual distance beside pixel MSE: 'classifier' (offline default: LPIPS' recipe, without its "
        "learned weights, on the classifier set's conv features), 'lpips' (VGG16 LPIPS, needs --lpips-weights) "
        "or 'none'."
    ),
]
ClassifierSetOption = Annotated[
    str, typer.Option(help="Classifier set for --perceptual classifier, or 'default' (shipped, by resolution).")
]
LpipsWeights = Annotated[
    Path | None,
    typer.Option(help="VGG16 + LPIPS v0.1 weights in one safetensors (or state-dict) file; see README, Projection."),
]
PerceptualWeight = Annotated[float, typer.Option(help="Weight of the perceptual distance beside the pixel MSE.")]


def _distance(perceptual: str, classifiers: str, lpips_weights: Path | None, resolution: int, device: str):
    from genomekit.perceptual import perceptual_distance

    classifier_set = None
    if perceptual == "classifier":
        from classifiers import load_classifier_set

        classifier_set = load_classifier_set(classifiers, device=device, resolution=resolution)
    return perceptual_distance(perceptual, classifier_set, lpips_weights, device)


def _step_bar(make_bar, description: str, total: int, unit: str = "step"):
    if make_bar is None:
        return None
    update = make_bar(description, total, unit)
    return lambda *_: update(1)


@command(app, "project")
def project_command(
    model: Model,
    out: Annotated[Path, typer.Option(help="Directory for the projections, results.csv and figure.png (replaced).")],
    image: Images = None,
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 1000,
    space: Annotated[str, typer.Option(help="'w+' (one latent per synthesis layer) or 'w' (one for all).")] = "w+",
    perceptual: Perceptual = "classifier",
    classifiers: ClassifierSetOption = "default",
    lpips_weights: LpipsWeights = None,
    perceptual_weight: PerceptualWeight = 1.0,
    seed: Seed = 0,
    device: Device = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Project real images into the continuous space around the genome (StyleGenes, Appendix F).

    Starts from the mean w of randomly drawn gene sequences and optimises W+ for pixel MSE plus a
    perceptual distance; then reads off each image's nearest-variant gene sequence under L1, L2 and
    cosine distance (Fig. 11). Writes the projections and their latents, PSNR/SSIM per image, the
    sequences (to paste into `interpolate --from` or `insert`) and a figure. Example:

        genomekit project --model default --image face.png --image more_faces/ --out proj/
    """
    from genomekit.images import image_paths, read_images
    from genomekit.projection import ProjectionConfig
    from genomekit.training import load_checkpoint

    check_positive(steps, "--steps")
    if not perceptual_weight >= 0:
        raise UserError(f"--perceptual-weight must be >= 0, got {perceptual_weight}")
    try:
        config = ProjectionConfig(steps=steps, space=space, perceptual_weight=perceptual_weight)
    except ValueError as error:
        raise UserError(f"--{str(error)}") from None
    paths = image_paths(image or [])
    device = resolve_device(device)
    checkpoint = load_checkpoint(model)
    generator_config = checkpoint.generator_config
    targets = read_images(paths, generator_config.resolution, generator_config.img_channels)
    distance = _distance(perceptual, classifiers, lpips_weights, generator_config.resolution, device)
    from dataclasses import asdict

    from analysis.projection import project_and_match, write_projection

    with progress_bars(progress) as make_bar, staged_output(out, "project") as tmp:
        result = project_and_match(
            checkpoint,
            paths,
            targets,
            config,
            distance,
            seed=seed,
            device=device,
            on_step=_step_bar(make_bar, "projecting", steps),
        )
        write_projection(tmp, checkpoint, paths, result, {**asdict(config), "perceptual": perceptual, "seed": seed})
    table = result.table
    for row in table.itertuples(index=False):
        line = f"{row.image}: projection {row.psnr:.2f} dB (SSIM {row.ssim:.3f})"
        if "psnr_l2" in table:
            line += f"; nearest variants L1 {row.psnr_l1:.2f}, L2 {row.psnr_l2:.2f}, cosine {row.psnr_cosine:.2f} dB"
        typer.echo(line)
    typer.echo(f"wrote {out}/ (results.csv, figure.png, images/, projection.safetensors)")


@command(app, "insert")
def insert_command(
    model: Model,
    out: Annotated[Path, typer.Option(help="The new checkpoint to write (an inference .safetensors file).")],
    image: Images = None,
    projection: Annotated[
        Path | None, typer.Option(help="A `genomekit project` directory of this model: insert its images.")
    ] = None,
    metric: Annotated[str, typer.Option(help="Nearest-variant distance: 'l1', 'l2' or 'cosine'.")] = "l2",
    search_sweeps: Annotated[
        int,
        typer.Option(
            help="Sweeps of greedy gene-by-gene search in image space from the nearest variants, before tuning "
            "(0: the paper's nearest variants as they are)."
        ),
    ] = 2,
    steps: Annotated[
        int | None,
        typer.Option(
            help="Tuning steps; default 350 per image (PTI tunes one image for 350; several need as many each)."
        ),
    ] = None,
    project_steps: Annotated[int, typer.Option(help="Projection steps, with --image.")] = 1000,
    perseverance_weight: Annotated[
        float,
        typer.Option(
            help="Weight of codebook perseverance (random sequences keep their images), in the consolidation half."
        ),
    ] = 12.0,
    perceptual: Perceptual = "classifier",
    classifiers: ClassifierSetOption = "default",
    lpips_weights: LpipsWeights = None,
    perceptual_weight: PerceptualWeight = 1.0,
    seed: Seed = 0,
    device: Device = "auto",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Write real images into the codebook: PTI with codebook perseverance (StyleGenes, sec. 4.2, Fig. 3).

    Projects each image (or takes a `genomekit project` directory), takes its nearest-variant gene
    sequence, improves it by a greedy gene-by-gene search in image space (--search-sweeps; 0 keeps the
    paper's nearest variants), then tunes the synthesis network and the Genome so that the sequence
    reproduces the image, while randomly drawn sequences keep their syntheses from the frozen original:
    the first half of the steps fits under 1/16 of --perseverance-weight, the second half consolidates
    under all of it while the learning rate falls to 0. Several images at once (350 tuning steps each by
    default). Prints each sequence and its PSNR before and after. The new checkpoint records its source;
    statistics of the old model are refused for it unless --allow-other-model. Example:

        genomekit insert --model default --image face.png --out inserted.safetensors
    """
    from analysis.inputs import check_genome_model
    from genomekit.images import image_paths, read_images
    from genomekit.insertion import InsertionConfig
    from genomekit.projection import METRICS, ProjectionConfig
    from genomekit.training import load_checkpoint
    from genomekit.training.checkpoint import resolve_model

    if (image is None) == (projection is None):
        raise UserError("give the images with --image, or a `genomekit project` directory with --projection")
    if metric not in METRICS:
        raise UserError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    check_positive(steps, "--steps")
    check_positive(project_steps, "--project-steps")
    check_positive(search_sweeps, "--search-sweeps", 0)
    for value, flag in ((perseverance_weight, "--perseverance-weight"), (perceptual_weight, "--perceptual-weight")):
        if not value >= 0:
            raise UserError(f"{flag} must be >= 0, got {value}")
    config = InsertionConfig(steps=steps, perceptual_weight=perceptual_weight, perseverance_weight=perseverance_weight)
    source = resolve_model(model)
    check_output_file(out, inputs=(source,))
    device = resolve_device(device)
    checkpoint = load_checkpoint(model)
    check_genome_model(checkpoint, "insertion")
    generator_config = checkpoint.generator_config
    if image is not None:
        paths = image_paths(image)
        targets = read_images(paths, generator_config.resolution, generator_config.img_channels)
    else:
        from analysis.projection import read_projection

        targets, sequences, names = read_projection(projection, checkpoint, metric)
    distance = _distance(perceptual, classifiers, lpips_weights, generator_config.resolution, device)

    from analysis.projection import insert_images, project_and_match, sequence_text
    from genomekit.fileio import file_sha256

    with progress_bars(progress) as make_bar:
        if image is not None:
            names = [p.name for p in paths]
            projected = project_and_match(
                checkpoint,
                paths,
                targets,
                ProjectionConfig(steps=project_steps, perceptual_weight=perceptual_weight),
                distance,
                seed=seed,
                device=device,
                on_step=_step_bar(make_bar, "projecting", project_steps),
            )
            sequences = projected.tensors[f"sequences_{metric}"]
            provenance = {
                "images_sha256": [file_sha256(p) for p in paths],
                "projection": {"steps": project_steps, "psnr": projected.table["psnr"].tolist()},
            }
        else:
            provenance = {"projection_dir": str(projection)}
        if search_sweeps > 0:
            from genomekit.projection import search_sequences

            nearest = sequences
            update = _step_bar(make_bar, "searching", search_sweeps * generator_config.num_genes, "gene")
            sequences = search_sequences(
                checkpoint.generator(device),
                targets,
                nearest,
                distance,
                perceptual_weight,
                search_sweeps,
                on_gene=update,
            )
            provenance["nearest_sequences"] = [sequence_text(s) for s in nearest]
        provenance["search_sweeps"] = search_sweeps
        table = insert_images(
            checkpoint,
            names,
            targets,
            sequences,
            out,
            config,
            distance,
            provenance={**provenance, "metric": metric, "perceptual": perceptual},
            seed=seed,
            device=device,
            on_step=_step_bar(make_bar, "inserting", config.total_steps(len(targets))),
        )
    for row in table.itertuples(index=False):
        typer.echo(
            f"{row.image}: {row.psnr_before:.2f} dB before, {row.psnr_after:.2f} dB after; sequence {row.sequence}"
        )
    typer.echo(f"wrote {out}")
