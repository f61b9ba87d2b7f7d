"""Commands: `genomekit classifiers train | eval | info | import-celebahq` -- attribute classifier sets."""

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
    check_replaceable_dir,
    command,
    resolve_device,
    setup_logging,
    split_names,
    staged_output,
)
from genomekit.errors import UserError

classifiers_app = typer.Typer(
    help="Attribute classifier sets: train on labelled images, evaluate on held-out images, inspect.",
    no_args_is_help=True,
)
app.add_typer(classifiers_app, name="classifiers")

ClassifierDir = Annotated[
    str,
    typer.Argument(
        help="Classifier set directory (classifier.json + classifier.safetensors, or StyleGAN "
        "celebahq-classifier-NN-*.pt files), or 'default' / 'default-32'."
    ),
]
BatchSize = Annotated[int, typer.Option(help="Images per scoring batch.")]
BATCH_ALIASES = {"--batch-size": "--batch"}
Workers = Annotated[int, typer.Option(help="Image-decoding worker processes.")]
Threads = Annotated[
    int | None,
    typer.Option(help="CPU threads for torch (1 is fastest on a busy machine); default: torch's choice."),
]


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads must be at least 1, got {threads}")
        import torch

        torch.set_num_threads(threads)


def _config_error(error: ValueError) -> UserError:
    return UserError(str(error))


@command(classifiers_app, "train", aliases={**BATCH_ALIASES, "--attributes": "--attr"})
def train(
    data: Annotated[Path, typer.Argument(help="Labelled images: folder or zip with dataset.json, or CelebA.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the classifier set to (replaced).")],
    resolution: Annotated[int, typer.Option(help="Input resolution of the networks, in pixels.")] = 64,
    channels: Annotated[str, typer.Option(help="Channels per stage, comma-separated.")] = "32,64,128,192",
    stem_channels: Annotated[int, typer.Option(help="Channels of the first (stem) convolution.")] = 32,
    stem_stride: Annotated[int, typer.Option(help="Stem stride: 2 (3x3 conv) or 4 (4x4 patches, cheaper).")] = 2,
    attr: Annotated[
        list[str] | None, typer.Option(help="Train on this attribute only (repeatable, or comma-separated).")
    ] = None,
    epochs: Annotated[int, typer.Option(help="Most epochs; early stopping may end sooner.")] = 30,
    batch: Annotated[int, typer.Option(help="Images per training step.")] = 128,
    learning_rate: Annotated[float, typer.Option("--lr", help="Peak AdamW learning rate.")] = 2e-3,
    val_fraction: Annotated[float, typer.Option(help="Share of images held out for validation.")] = 0.05,
    patience: Annotated[int, typer.Option(help="Epochs without a lower validation loss before stopping.")] = 4,
    max_minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes of wall time.")] = None,
    resample_probability: Annotated[
        float, typer.Option(help="Share of batches resampled down (to >= half size) and up again.")
    ] = 0.5,
    init_from: Annotated[
        str | None, typer.Option(help="Continue from this saved set's weights (same architecture).")
    ] = None,
    seed: Seed = 0,
    device: Device = "auto",
    workers: Workers = 2,
    threads: Threads = None,
) -> None:
    """Train a multi-head attribute classifier set (one CNN, one logit per attribute) with BCE.

    Holds out a validation split for early stopping and prints per-attribute accuracy, balanced
    accuracy and AUC on it (also saved as DIR/validation.csv).

    Example: genomekit classifiers train faces.zip --out runs/classifiers --epochs 20
    """
    from classifiers import AugmentConfig, MultiHeadConfig, TrainConfig, train_classifier_set

    setup_logging()
    _set_threads(threads)
    check_replaceable_dir(out, "classifiers train")  # before training, so a bad --out does not lose it
    check_positive(workers, "--workers", 0)
    names = split_names(attr)
    try:
        config = TrainConfig(
            architecture=MultiHeadConfig(
                resolution=resolution,
                channels=_int_list(channels, "channels"),
                stem_channels=stem_channels,
                stem_stride=stem_stride,
            ),
            augment=AugmentConfig(resample_probability=resample_probability),
            attributes=tuple(names) or None,
            epochs=epochs,
            batch_size=batch,
            learning_rate=learning_rate,
            val_fraction=val_fraction,
            patience=patience,
            max_minutes=max_minutes,
            seed=seed,
            init_from=init_from,
        )
    except ValueError as error:
        raise _config_error(error) from None
    device = resolve_device(device)
    with staged_output(out, "classifiers train") as tmp:
        result = train_classifier_set(data, config, out=tmp, device=device, num_workers=workers)
    typer.echo(result.validation.table())
    typer.echo(
        f"saved {len(result.classifier.attribute_names)} classifiers to {out} "
        f"(best epoch {result.best_epoch} of {result.epochs_run}, {result.seconds / 60:.1f} min)"
    )


@command(classifiers_app, "eval", aliases=BATCH_ALIASES)
def evaluate(
    classifier: ClassifierDir,
    data: Annotated[Path, typer.Argument(help="Held-out labelled images (not the training data).")],
    csv: Annotated[Path | None, typer.Option(help="Where to write per-attribute metrics [DIR/metrics.csv].")] = None,
    input_resolution: Annotated[
        int | None, typer.Option(help="Shrink images to this size first (e.g. 32, like a 32-px generator).")
    ] = None,
    batch: BatchSize = 256,
    device: Device = "auto",
    workers: Workers = 0,
    threads: Threads = None,
) -> None:
    """Score labelled images with a classifier set and print accuracy, balanced accuracy and AUC per attribute.

    The dataset's label names must include every attribute of the set (matched ignoring case and
    punctuation). Metrics are saved as CSV next to the weights unless --csv says otherwise
    (the shipped 'default' set writes a CSV only with --csv).

    Example: genomekit classifiers eval runs/classifiers faces-test.zip
    """
    from classifiers import evaluate_classifier_set, load_classifier_set
    from classifiers.saved import DEFAULT_NAME, METRICS_FILE
    from genomekit.data import open_dataset

    setup_logging()
    _set_threads(threads)
    if input_resolution is not None and input_resolution < 4:
        raise UserError(f"--input-resolution must be at least 4 pixels, got {input_resolution}")
    check_positive(batch, "--batch")
    check_positive(workers, "--workers", 0)
    if csv is not None:
        check_output_file(csv, "--csv")
    model = load_classifier_set(classifier, device=resolve_device(device))
    dataset = open_dataset(data)
    report = evaluate_classifier_set(
        model, dataset, batch_size=batch, input_resolution=input_resolution, num_workers=workers
    )
    typer.echo(report.table())
    if csv is None and classifier != DEFAULT_NAME and Path(classifier).is_dir():
        csv = Path(classifier) / METRICS_FILE
    if csv is not None:
        report.to_csv(csv)
        typer.echo(f"wrote {csv}")


@command(classifiers_app, "info")
def info(classifier: ClassifierDir) -> None:
    """Describe a classifier set: kind, attributes, input resolution, identity, training data, metrics.

    Example: genomekit classifiers info default
    """
    from classifiers import load_classifier_set
    from classifiers.saved import (
        CONFIG_FILE,
        DEFAULT_NAME,
        SHIPPED_BY_RESOLUTION,
        _resolve_directory,
        read_classifier_info,
    )

    directory = _resolve_directory(classifier)
    if (directory / CONFIG_FILE).is_file():
        doc = read_classifier_info(directory)
        model = load_classifier_set(directory)
    else:
        model = load_classifier_set(directory)
        doc = {"kind": model.kind, "architecture": model.config(), "training": {}, "validation": {}}
    parameters = sum(p.numel() for p in model.parameters())
    if classifier == DEFAULT_NAME:
        shipped = ", ".join(f"{name!r} for {side}-px models" for side, name in sorted(SHIPPED_BY_RESOLUTION.items()))
        typer.echo(
            f"note: 'default' in commands that take a model means the shipped set for its resolution ({shipped}); "
            "shown here: the 64-px set"
        )
    typer.echo(f"classifier set  {directory}")
    typer.echo(f"kind            {doc['kind']}")
    typer.echo(f"identity        {model.identity}")
    typer.echo(f"resolution      {model.resolution} px (other sizes are resized with antialiasing)")
    typer.echo(f"parameters      {parameters:,}")
    typer.echo(f"architecture    {doc['architecture']}")
    typer.echo(f"attributes      {len(model.attribute_names)}: {', '.join(model.attribute_names)}")
    data = doc.get("training", {}).get("data")
    if data:
        typer.echo(
            f"trained on      {data['path']} ({data['count']} images, {data['resolution']} px, "
            f"sha256 {data['sha256'][:16]}); best epoch {doc['training'].get('best_epoch')} of "
            f"{doc['training'].get('epochs_run')}"
        )
    validation = doc.get("validation") or {}
    if "mean_accuracy" in validation:
        typer.echo(
            f"validation      {validation.get('count')} images: mean accuracy "
            f"{validation['mean_accuracy']:.2%}, lowest balanced accuracy "
            f"{validation['min_balanced_accuracy']:.2%}"
        )


@command(classifiers_app, "import-celebahq")
def import_celebahq(
    directory: Annotated[
        Path, typer.Argument(help="Folder with StyleGAN's celebahq-classifier-NN-attribute.pkl files.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Classifier set directory to create (new or empty).")],
) -> None:
    """Convert StyleGAN's TensorFlow CelebA-HQ attribute classifiers (.pkl) into one classifier set.

    No TensorFlow needed: the pickles are read with a restricted unpickler that never runs the code
    stored in them. Blur and minibatch-stddev settings come from each network's build function and
    kwargs. The set is written to a temporary directory beside --out and renamed into place.

    Example: genomekit classifiers import-celebahq ~/stylegan-metrics --out ~/celebahq-classifiers
    """
    import time

    from classifiers.celebahq import CELEBAHQ_CLASSIFIERS
    from classifiers.convert_tf import find_celebahq_pickles, import_celebahq_pickles

    files = find_celebahq_pickles(directory, out)  # one line and exit 2 on bad input, before any work
    official = {(index, slug) for index, (slug, _) in enumerate(CELEBAHQ_CLASSIFIERS)}
    known = sum((index, slug) in official for index, slug, _ in files)
    typer.echo(f"converting {len(files)} classifiers from {directory} ({known} of the {len(official)} official files)")
    start = time.monotonic()

    def show(done: int, total: int, path: Path, description: str) -> None:
        elapsed = time.monotonic() - start
        eta = elapsed / done * (total - done)
        typer.echo(
            f"[{done:>{len(str(total))}}/{total}] {path.name}  {description}  ({elapsed:.1f} s, ETA {eta:.0f} s)"
        )

    result = import_celebahq_pickles(directory, out, progress=show)
    typer.echo(
        f"wrote {len(result.attribute_names)} classifiers ({result.resolution} px, {result.build_func_name}) "
        f"to {result.out}; check with: genomekit classifiers info {result.out}"
    )


def _int_list(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError(f"--{name} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise UserError(f"--{name} needs at least one value")
    return values
