"""Per-attribute evaluation of a classifier set on labelled images: accuracy, balanced accuracy, AUC.

The metric functions are pure (tensors in, numbers out); ``evaluate_classifier_set`` scores a dataset
in batches and returns an ``EvaluationReport`` that prints as a table and saves as CSV.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from classifiers.attributes import match_attribute_columns
from classifiers.base import ClassifierSet, resize_images
from genomekit.errors import UserError
from genomekit.fileio import atomic_write
from genomekit.metrics.classification import balanced_accuracy

logger = logging.getLogger(__name__)

METRIC_COLUMNS = (
    "attribute",
    "count",
    "positive_rate",
    "predicted_rate",
    "accuracy",
    "balanced_accuracy",
    "auc",
    "mean_confidence",
)


def binary_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (scikit-learn's ``roc_auc_score``: tied scores count half); NaN with one class only.

    Args:
        scores: (N,) scores, higher meaning "positive".
        labels: (N,) in {0, 1}.
    """
    from sklearn.metrics import roc_auc_score  # imported here: scikit-learn takes a second to import

    labels = np.asarray(labels) > 0.5
    if labels.all() or not labels.any():
        return float("nan")
    return float(roc_auc_score(labels, np.asarray(scores, dtype=np.float64)))


def attribute_metrics(probabilities: Tensor, labels: Tensor) -> dict[str, np.ndarray]:
    """Per-attribute metrics of probabilities against labels, thresholded at 0.5.

    Args:
        probabilities: (N, A) in [0, 1].
        labels: (N, A) in {0, 1}.
    Returns:
        name -> (A,) array: positive_rate, predicted_rate, accuracy, balanced_accuracy (mean of the
        true-positive and true-negative rates; the one rate present when a class is absent), auc,
        mean_confidence (mean of max(p, 1 - p)).
    """
    if probabilities.shape != labels.shape or probabilities.ndim != 2:
        raise ValueError(f"probabilities {tuple(probabilities.shape)} and labels {tuple(labels.shape)} must be (N, A)")
    p = probabilities.double().cpu().numpy()
    y = labels.double().cpu().numpy() > 0.5
    predicted = p >= 0.5
    correct = predicted == y
    return {
        "positive_rate": y.mean(0),
        "predicted_rate": predicted.mean(0),
        "accuracy": correct.mean(0),
        "balanced_accuracy": balanced_accuracy(predicted, y),
        "auc": np.array([binary_auc(p[:, a], y[:, a]) for a in range(p.shape[1])]),
        "mean_confidence": np.maximum(p, 1 - p).mean(0),
    }


@dataclass(frozen=True)
class EvaluationReport:
    """Per-attribute metrics of one classifier set on one labelled dataset."""

    attribute_names: tuple[str, ...]
    count: int  # N, images scored
    metrics: dict[str, np.ndarray]  # name -> (A,)
    dataset: str = ""
    input_resolution: int | None = None  # images were resized to this size before scoring, if set

    @property
    def mean_accuracy(self) -> float:
        return float(np.mean(self.metrics["accuracy"]))

    @property
    def min_balanced_accuracy(self) -> float:
        return float(np.nanmin(self.metrics["balanced_accuracy"]))

    def rows(self) -> list[dict[str, float | str | int]]:
        rows = []
        for index, name in enumerate(self.attribute_names):
            row: dict[str, float | str | int] = {"attribute": name, "count": self.count}
            row.update({key: float(values[index]) for key, values in self.metrics.items()})
            rows.append(row)
        return rows

    def summary(self) -> dict[str, float]:
        return {
            "mean_accuracy": self.mean_accuracy,
            "mean_balanced_accuracy": float(np.nanmean(self.metrics["balanced_accuracy"])),
            "min_balanced_accuracy": self.min_balanced_accuracy,
            "mean_auc": float(np.nanmean(self.metrics["auc"])),
            "mean_confidence": float(np.mean(self.metrics["mean_confidence"])),
        }

    def to_csv(self, path: str | Path) -> None:
        """Write one row per attribute (columns METRIC_COLUMNS), atomically; NaN as an empty cell."""
        frame = pd.DataFrame(self.rows(), columns=list(METRIC_COLUMNS))
        with atomic_write(path, "w") as f:
            frame.to_csv(f, index=False, float_format="%.6f", lineterminator="\n")

    def table(self) -> str:
        """A fixed-width table: one line per attribute, then the means, then a one-line summary."""
        summary = self.summary()
        mean = {
            "attribute": "mean",
            "positive_rate": float("nan"),
            "accuracy": summary["mean_accuracy"],
            "balanced_accuracy": summary["mean_balanced_accuracy"],
            "auc": summary["mean_auc"],
            "mean_confidence": summary["mean_confidence"],
        }
        frame = pd.DataFrame([*self.rows(), mean])
        width = max(len("attribute"), *(len(a) for a in self.attribute_names))
        cells = pd.DataFrame(
            {
                "attribute": frame["attribute"].str.ljust(width),
                "pos": frame["positive_rate"].map(lambda v: "" if math.isnan(v) else f"{v:.2f}"),
                "acc": frame["accuracy"].map(lambda v: f"{100 * v:.2f}"),
                "bal acc": frame["balanced_accuracy"].map(lambda v: f"{100 * v:.2f}"),
                "AUC": frame["auc"].map("{:.4f}".format),
                "conf": frame["mean_confidence"].map("{:.3f}".format),
            }
        )
        header, *rows = cells.to_string(index=False, header=["attribute".ljust(width), *cells.columns[1:]]).split("\n")
        rule = "-" * len(header)
        where = f" at {self.input_resolution} px" if self.input_resolution else ""
        lowest = self.attribute_names[int(np.nanargmin(self.metrics["balanced_accuracy"]))]
        return "\n".join(
            [
                header,
                rule,
                *rows[:-1],
                rule,
                rows[-1],
                f"{self.count} images{where}: mean accuracy {summary['mean_accuracy']:.2%}, lowest balanced "
                f"accuracy {summary['min_balanced_accuracy']:.2%} ({lowest})",
            ]
        )


def images_to_unit_range(images: Tensor) -> Tensor:
    """uint8 (B, C, H, W) -> float32 in [-1, 1], grey images repeated to 3 channels."""
    x = images.float() / 127.5 - 1.0
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


@torch.inference_mode()
def score_dataset(
    classifier: ClassifierSet,
    dataset: torch.utils.data.Dataset,
    *,
    batch_size: int = 256,
    input_resolution: int | None = None,
    num_workers: int = 0,
    progress: bool = True,
) -> Tensor:
    """Probabilities (N, A) of every image of ``dataset`` (items uint8 (C, H, W)), in batches.

    Args:
        input_resolution: first shrink each image to this size (e.g. 32, to see how the set does on
            low-resolution generator output); None scores the images as they are.
    """
    from tqdm import tqdm

    classifier.eval()
    loader = torch.utils.data.DataLoader(
        _ImagesOnly(dataset),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
    )
    parts = []
    start = time.perf_counter()
    with tqdm(total=len(dataset), unit="img", desc="scoring", disable=not progress, leave=False) as bar:
        for images in loader:
            x = images_to_unit_range(images)
            if input_resolution is not None:
                x = resize_images(x, input_resolution)
            parts.append(classifier(x).cpu())
            bar.update(len(images))
    elapsed = time.perf_counter() - start
    logger.debug("scored %d images in %.1f s (%.0f img/s)", len(dataset), elapsed, len(dataset) / max(elapsed, 1e-9))
    return torch.cat(parts) if parts else torch.empty(0, classifier.num_attributes)


class _ImagesOnly(torch.utils.data.Dataset):
    def __init__(self, dataset: torch.utils.data.Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Tensor:
        return self.dataset[index]


def dataset_label_columns(classifier: ClassifierSet, dataset) -> list[int]:
    """Columns of ``dataset.labels`` that hold the classifier's attributes, in the classifier's order.

    Raises:
        UserError: the dataset has no labels, or lacks some of the classifier's attributes.
    """
    if getattr(dataset, "labels", None) is None:
        raise UserError(
            f"{getattr(dataset, 'path', 'the dataset')} has no labels (dataset.json 'labels'); "
            "evaluation needs labelled images"
        )
    return match_attribute_columns(classifier.attribute_names, dataset.attribute_names, what="dataset")


def evaluate_classifier_set(
    classifier: ClassifierSet,
    dataset,
    *,
    batch_size: int = 256,
    input_resolution: int | None = None,
    num_workers: int = 0,
    progress: bool = True,
    indices: Sequence[int] | None = None,
) -> EvaluationReport:
    """Score a labelled dataset (an ``ImageDataset``) and compare with its labels, attribute by attribute.

    Args:
        classifier: the set to evaluate.
        dataset: has ``labels`` (N, A') and ``attribute_names``; every classifier attribute must be
            among them (matched ignoring case and punctuation); extra label columns are ignored.
        indices: evaluate only these images (e.g. a validation split).
    Raises:
        UserError: no labels, or attribute names that differ.
    """
    columns = dataset_label_columns(classifier, dataset)
    subset = dataset if indices is None else torch.utils.data.Subset(dataset, list(indices))
    probabilities = score_dataset(
        classifier,
        subset,
        batch_size=batch_size,
        input_resolution=input_resolution,
        num_workers=num_workers,
        progress=progress,
    )
    labels = dataset.labels if indices is None else dataset.labels[torch.as_tensor(list(indices))]
    labels = labels[:, columns]
    return EvaluationReport(
        attribute_names=classifier.attribute_names,
        count=len(subset),
        metrics=attribute_metrics(probabilities, labels),
        dataset=str(getattr(dataset, "path", "")),
        input_resolution=input_resolution,
    )
