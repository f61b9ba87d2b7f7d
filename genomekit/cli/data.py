"""Commands under `genomekit data`: make the synthetic-faces dataset, describe any dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import Seed, check_output_file, check_positive, command, option_or_positional

data_app = typer.Typer(
    help="Datasets: make the bundled synthetic faces, inspect an image folder, zip or CelebA folder.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


@command(data_app, "synth-faces", aliases={"--count": "--images"})
def synth_faces(
    out: Annotated[Path | None, typer.Option(help="The .zip to write (StyleGAN layout with dataset.json).")] = None,
    images: Annotated[int, typer.Option(help="Number of images.")] = 50_000,
    resolution: Annotated[int, typer.Option(help="Image side in pixels: 32, 64 or 128.")] = 64,
    seed: Seed = 0,
    workers: Annotated[int | None, typer.Option(help="Processes rendering in parallel (default: all cores).")] = None,
    out_positional: Annotated[Path | None, typer.Argument(hidden=True, metavar="[OUT]")] = None,
) -> None:
    """Render procedural cartoon faces labelled with the 40 CelebA attributes into a zip.

    Example: genomekit data synth-faces --out faces32.zip --images 50000 --resolution 32 --seed 0
    """
    from genomekit.data.synth_faces import write_synth_faces

    out = check_output_file(option_or_positional(out, out_positional, "--out", "the file to write"))
    check_positive(images, "--images")
    check_positive(workers, "--workers")
    path = write_synth_faces(out, count=images, resolution=resolution, seed=seed, workers=workers)
    typer.echo(f"wrote {images} images at {resolution}x{resolution} to {path}")


@command(data_app, "synth-faces-grid")
def synth_faces_grid(
    out: Annotated[Path | None, typer.Option(help="The .png to write.")] = None,
    resolution: Annotated[int, typer.Option(help="Face resolution: 32, 64 or 128.")] = 64,
    seed: Seed = 0,
    upscale: Annotated[int, typer.Option(help="Enlarge each face this many times (nearest neighbour).")] = 2,
    out_positional: Annotated[Path | None, typer.Argument(hidden=True, metavar="[OUT]")] = None,
) -> None:
    """Draw a labelled grid: each of the 40 attributes off and on, on the same synthetic face.

    Example: genomekit data synth-faces-grid --out synth_faces_grid.png --resolution 64
    """
    from genomekit.data.synth_faces import save_attribute_grid

    out = check_output_file(option_or_positional(out, out_positional, "--out", "the file to write"))
    check_positive(upscale, "--upscale")
    save_attribute_grid(out, resolution=resolution, seed=seed, upscale=upscale)
    typer.echo(f"wrote {out}")


@command(data_app, "info")
def info(
    path: Annotated[Path, typer.Argument(help="Image folder, .zip with dataset.json, or CelebA folder.")],
    check: Annotated[
        bool, typer.Option(help="Read every image header and check its size (--no-check: the first image only).")
    ] = True,
) -> None:
    """Print a dataset's image count, resolution, attributes and label frequencies.

    Example: genomekit data info faces32.zip
    """
    from genomekit.data.dataset import format_info, open_dataset

    dataset = open_dataset(path)
    if check:
        dataset.check_sizes()
    typer.echo(format_info(dataset.info()))
    side = dataset.resolution
    if side < 4 or side & (side - 1):
        typer.echo(
            f"note: {side} px is not a power of two; `genomekit train` needs 4, 8, 16, ..., 1024 px "
            f"(resize the images, e.g. to {1 << max(2, side.bit_length() - 1)} px)"
        )
