"""Scores of binary predictions against labels, column by column."""

from __future__ import annotations

import numpy as np


def balanced_accuracy(prediction: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Balanced accuracy of each column: the mean of its true-positive and true-negative rates.

    A column whose labels hold one class only gets that class's rate (its plain accuracy); one
    without rows gets NaN. Chance is 0.5 whatever the class frequencies.

    Args:
        prediction: (N, K) predicted classes in {0, 1} (or bool).
        labels: (N, K) true classes in {0, 1} (or bool), or (N, 1) shared by every column.
    Returns:
        (K,) balanced accuracies.
    """
    predicted, y = np.asarray(prediction) > 0.5, np.asarray(labels) > 0.5
    correct = predicted == y  # (N, K)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (correct & y).sum(0) / y.sum(0)
        tnr = (correct & ~y).sum(0) / (~y).sum(0)
    return np.where(np.isnan(tpr), tnr, np.where(np.isnan(tnr), tpr, (tpr + tnr) / 2))
