"""Training a multi-head attribute classifier set with BCE on any labelled image dataset.

Steps (``train_classifier_set``):
1. open the dataset, pick the attribute columns, check labels are 0/1;
2. split off a validation set (seeded), load all images into memory as uint8;
3. train with AdamW, warm-up + cosine learning rate, augmentation, dropout before the head;
4. after every epoch measure the validation loss; keep the best weights; stop after ``patience``
   epochs without improvement (or when the time budget is spent);
5. fit per-attribute Platt scaling on the validation split (folded into the head), evaluate there,
   and save the set, its config and a CSV.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from classifiers.attributes import resolve_attributes
from classifiers.augment import AugmentConfig, augment_batch
from classifiers.base import resize_images
from classifiers.calibrate import fit_platt, fold_into_linear
from classifiers.evaluate import EvaluationReport, attribute_metrics, images_to_unit_range
from classifiers.multihead import MultiHeadClassifierSet, MultiHeadConfig
from classifiers.saved import save_classifier_set
from genomekit.errors import UserError
from genomekit.fileio import file_sha256, write_json

logger = logging.getLogger(__name__)

VALIDATION_FILE = "validation.csv"


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How to train a multi-head classifier set."""

    architecture: MultiHeadConfig = field(default_factory=MultiHeadConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    attributes: tuple[str, ...] | None = None  # train on these label columns only (None: all)
    epochs: int = 30  # at most; early stopping usually ends sooner
    batch_size: int = 128
    learning_rate: float = 2e-3  # AdamW peak, after a linear warm-up
    warmup_steps: int = 100
    weight_decay: float = 5e-4
    dropout: float = 0.1  # on the features before the head
    val_fraction: float = 0.05  # share of images held out for validation and early stopping
    patience: int = 4  # epochs without a lower validation loss before stopping
    max_minutes: float | None = None  # wall-clock budget; the learning rate anneals to zero by its end
    # (a budget makes the result depend on machine speed)
    seed: int = 0  # split, initial weights, order and augmentation
    init_from: str | None = None  # start from this saved set's weights (same attributes and architecture)
    calibrate: bool = True  # fit per-attribute Platt scaling on the validation split, folded into the head

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 2:
            raise ValueError(f"batch size must be at least 2 (batch norm), got {self.batch_size}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning rate must be positive, got {self.learning_rate}")
        if self.weight_decay < 0 or self.warmup_steps < 0:
            raise ValueError("weight decay and warm-up steps must not be negative")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 < self.val_fraction < 0.9:
            raise ValueError(f"validation fraction must be in (0, 0.9), got {self.val_fraction}")
        if self.patience < 1:
            raise ValueError(f"patience must be at least 1 epoch, got {self.patience}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ValueError(f"max minutes must be positive, got {self.max_minutes}")
        if self.attributes is not None:
            object.__setattr__(self, "attributes", tuple(self.attributes))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["architecture"] = self.architecture.to_json()
        data["attributes"] = None if self.attributes is None else list(self.attributes)
        return data


@dataclass(frozen=True)
class TrainResult:
    classifier: MultiHeadClassifierSet
    validation: EvaluationReport
    out: Path | None
    epochs_run: int
    best_epoch: int
    seconds: float


def dataset_identity(dataset) -> dict[str, Any]:
    """What identifies the training data: path, count, size, attribute names, and a content hash.

    The hash covers the zip file's bytes, or, for a folder, the image names, sizes and labels.
    """
    path = Path(dataset.path)
    if path.is_file():
        sha256 = file_sha256(path)
    else:
        digest = hashlib.sha256()
        for name in dataset.names:
            digest.update(name.encode())
            digest.update(str((path / name).stat().st_size).encode())
        if dataset.labels is not None:
            digest.update(dataset.labels.numpy().tobytes())
        sha256 = digest.hexdigest()
    return {
        "path": str(path.resolve()),
        "count": len(dataset),
        "resolution": dataset.resolution,
        "attribute_names": list(dataset.attribute_names),
        "sha256": sha256,
    }


def load_images(dataset, indices: Tensor | None = None, *, num_workers: int = 0, progress: bool = True) -> Tensor:
    """All images (or ``indices``) of an ImageDataset as one uint8 tensor (N, C, H, W), in order."""
    from tqdm import tqdm

    subset = dataset if indices is None else torch.utils.data.Subset(dataset, indices.tolist())
    loader = torch.utils.data.DataLoader(subset, batch_size=256, shuffle=False, num_workers=num_workers)
    out = torch.empty(len(subset), dataset.num_channels, dataset.resolution, dataset.resolution, dtype=torch.uint8)
    position = 0
    with tqdm(total=len(subset), unit="img", desc="loading", disable=not progress, leave=False) as bar:
        for batch in loader:
            out[position : position + len(batch)] = batch
            position += len(batch)
            bar.update(len(batch))
    return out


def _prepare(images: Tensor, resolution: int, device: torch.device) -> Tensor:
    """uint8 (B, C, H, W) -> float (B, 3, R, R) in [-1, 1], channels-last, on ``device``."""
    x = images_to_unit_range(images.to(device, non_blocking=True))
    x = resize_images(x, resolution)
    return x.contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def _predict(classifier: MultiHeadClassifierSet, images: Tensor, batch_size: int, device) -> Tensor:
    classifier.eval()
    parts = []
    for start in range(0, len(images), batch_size):
        x = _prepare(images[start : start + batch_size], classifier.resolution, device)
        parts.append(classifier.network(x).float().cpu())
    return torch.cat(parts)  # (N, A) logits


def _load_initial_weights(classifier: MultiHeadClassifierSet, path: str) -> None:
    """Copy the weights of the saved set at ``path`` into ``classifier`` (continued training)."""
    from classifiers.saved import load_classifier_set

    start = load_classifier_set(path)
    if start.kind != classifier.kind or start.config() != classifier.config():
        raise UserError(
            f"--init-from {path}: its architecture {start.config()} differs from the one asked for "
            f"{classifier.config()}; use the same --resolution, --channels and stem options"
        )
    if start.attribute_names != classifier.attribute_names:
        raise UserError(f"--init-from {path}: its attributes differ from the dataset's selected attributes")
    classifier.load_state_dict(start.state_dict())


def _json_number(value: Any) -> Any:
    """NaN (an attribute with one class only) becomes null: JSON has no NaN."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def train_classifier_set(
    data: str | Path,
    config: TrainConfig,
    *,
    out: str | Path | None = None,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    progress: bool = True,
) -> TrainResult:
    """Train a multi-head classifier set on a labelled dataset and (if ``out``) save it there.

    Args:
        data: an image folder or zip with dataset.json labels (anything ``open_dataset`` reads).
        config: training settings.
        out: directory for classifier.safetensors, classifier.json, config.json and validation.csv.
        device: where to train.
        num_workers: image-decoding processes while loading the dataset into memory.
        progress: show progress bars.
    Raises:
        UserError: unreadable data, no labels, labels that are not 0/1, too few images, unknown attribute.
    """
    from tqdm import tqdm

    from genomekit.data import open_dataset

    device = torch.device(device)
    generator = torch.Generator().manual_seed(config.seed)
    start_time = time.perf_counter()

    # 1. Dataset and label columns.
    dataset = open_dataset(data)
    if dataset.labels is None:
        raise UserError(f"{data} has no labels; training needs dataset.json with 'labels' and 'attribute_names'")
    names = list(dataset.attribute_names)
    if config.attributes is not None:
        names = list(resolve_attributes(config.attributes, dataset.attribute_names))
    columns = [dataset.attribute_names.index(name) for name in names]
    labels = dataset.labels[:, columns]  # (N, A)
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise UserError(f"{data}: labels must be 0 or 1 for every attribute (binary attributes)")

    # 2. Split and load.
    count = len(dataset)
    num_val = max(2, round(count * config.val_fraction))
    if count - num_val < config.batch_size // 2 or count < 8:
        raise UserError(
            f"{data} has {count} images; too few to train with batch size {config.batch_size} and "
            f"hold out {num_val} for validation"
        )
    order = torch.randperm(count, generator=generator)
    val_index, train_index = order[:num_val].sort().values, order[num_val:].sort().values
    logger.info(
        "training on %d images, validating on %d; %d attributes; %d px -> %d px",
        len(train_index),
        len(val_index),
        len(names),
        dataset.resolution,
        config.architecture.resolution,
    )
    images = load_images(dataset, num_workers=num_workers, progress=progress)  # (N, C, H, W) uint8
    train_images, val_images = images[train_index], images[val_index]
    train_labels, val_labels = labels[train_index], labels[val_index]
    del images

    # 3. Model and optimiser.
    classifier = MultiHeadClassifierSet(names, config.architecture, generator=generator)
    if config.init_from is not None:
        _load_initial_weights(classifier, config.init_from)
    classifier.to(device)
    decay = [p for n, p in classifier.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in classifier.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
    )
    steps_per_epoch = max(1, len(train_images) // config.batch_size)
    total_steps = steps_per_epoch * config.epochs

    budget = None if config.max_minutes is None else config.max_minutes * 60

    def learning_rate_factor(step: int) -> float:
        """Linear warm-up, then cosine to zero over the steps -- or over the time budget, if that ends first."""
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        done = (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps)
        if budget is not None:
            done = max(done, (time.perf_counter() - start_time) / budget)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    augment_generator = torch.Generator(device=device).manual_seed(config.seed + 1)

    # 4. Epochs with early stopping on the validation loss.
    best_loss, best_epoch, best_state, epochs_run, global_step = math.inf, 0, None, 0, 0
    out_of_time = False
    for epoch in range(1, config.epochs + 1):
        classifier.train()
        permutation = torch.randperm(len(train_images), generator=generator)
        epoch_start, running, steps_done = time.perf_counter(), 0.0, 0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch}/{config.epochs}",
            unit="step",
            disable=not progress,
            leave=False,
        )
        for step in bar:
            batch = permutation[step * config.batch_size : (step + 1) * config.batch_size]
            x = _prepare(train_images[batch], classifier.resolution, device)
            x = augment_batch(x, config.augment, augment_generator).contiguous(memory_format=torch.channels_last)
            y = train_labels[batch].to(device)
            features = classifier.network.features(x)  # (B, F)
            if config.dropout > 0:
                keep = torch.rand(features.shape, generator=augment_generator, device=device) >= config.dropout
                features = features * keep / (1 - config.dropout)
            loss = F.binary_cross_entropy_with_logits(classifier.network.head_logits(features), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate * learning_rate_factor(global_step)
            optimizer.step()
            global_step += 1
            steps_done += 1
            running = loss.item() if step == 0 else 0.98 * running + 0.02 * loss.item()
            bar.set_postfix(loss=f"{running:.4f}")
            if budget is not None and time.perf_counter() - start_time > budget:
                out_of_time = True
                break
        bar.close()
        epochs_run = epoch
        val_logits = _predict(classifier, val_images, 256, device)
        val_loss = F.binary_cross_entropy_with_logits(val_logits, val_labels).item()
        val_accuracy = ((val_logits > 0).float() == val_labels).float().mean().item()
        improved = val_loss < best_loss
        if improved:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(classifier.state_dict())
        elapsed = time.perf_counter() - start_time
        rate = steps_done * config.batch_size / (time.perf_counter() - epoch_start)
        logger.info(
            "epoch %d/%d: train loss %.4f, val loss %.4f, val accuracy %.2f%%%s, %.0f img/s, elapsed %s, ETA <= %s",
            epoch,
            config.epochs,
            running,
            val_loss,
            100 * val_accuracy,
            " (best)" if improved else "",
            rate,
            _format_seconds(elapsed),
            _format_seconds(elapsed / epoch * (config.epochs - epoch)),
        )
        if epoch - best_epoch >= config.patience:
            logger.info("stopping early: no lower validation loss for %d epochs", config.patience)
            break
        if out_of_time:
            logger.info("stopping: time budget of %.1f minutes spent", config.max_minutes)
            break

    # 5. Best weights, held-out report, save.
    assert best_state is not None
    classifier.load_state_dict(best_state)
    classifier.eval()
    calibration = None
    if config.calibrate:
        scale, shift = fit_platt(_predict(classifier, val_images, 256, device), val_labels)
        fold_into_linear(classifier.network.head, scale, shift)
        calibration = {"scale": scale.tolist(), "shift": shift.tolist()}
    val_probabilities = torch.sigmoid(_predict(classifier, val_images, 256, device))
    report = EvaluationReport(
        attribute_names=tuple(names),
        count=len(val_images),
        metrics=attribute_metrics(val_probabilities, val_labels),
        dataset=f"{data} (validation split)",
    )
    seconds = time.perf_counter() - start_time
    out_path = None
    if out is not None:
        out_path = Path(out)
        training = {
            "data": dataset_identity(dataset),
            "config": config.to_json(),
            "train_count": len(train_images),
            "validation_count": len(val_images),
            "epochs_run": epochs_run,
            "best_epoch": best_epoch,
            "seconds": round(seconds, 1),
            "device": str(device),
            "calibration": calibration,
        }
        validation = {
            **{k: _json_number(v) for k, v in report.summary().items()},
            "loss": best_loss,
            "count": len(val_images),
            "per_attribute": {
                row["attribute"]: {k: _json_number(v) for k, v in row.items() if k != "attribute"}
                for row in report.rows()
            },
        }
        save_classifier_set(classifier.cpu(), out_path, training=training, validation=validation)
        classifier.to(device)
        write_json(out_path / "config.json", config.to_json())
        report.to_csv(out_path / VALIDATION_FILE)
    return TrainResult(classifier, report, out_path, epochs_run, best_epoch, seconds)
