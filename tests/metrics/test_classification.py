import warnings

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from genomekit.metrics.classification import balanced_accuracy


def test_balanced_accuracy_matches_sklearn_column_by_column():
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 4)) < [0.2, 0.5, 0.0, 1.0]).astype(np.int64)  # the last two: one class only
    prediction = (rng.random((60, 4)) < 0.5).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about the one-class columns
        expected = [balanced_accuracy_score(labels[:, k], prediction[:, k]) for k in range(4)]
    assert balanced_accuracy(prediction, labels) == pytest.approx(expected, abs=1e-12)
    assert balanced_accuracy(prediction.astype(bool), labels.astype(bool)) == pytest.approx(expected, abs=1e-12)


def test_balanced_accuracy_with_labels_shared_by_every_column_and_without_rows():
    labels = np.array([1, 1, 1, 0])
    prediction = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    assert balanced_accuracy(prediction, labels[:, None]).tolist() == pytest.approx([(2 / 3 + 1) / 2, 0.5])
    assert np.isnan(balanced_accuracy(np.zeros((0, 2)), np.zeros((0, 2)))).all()
