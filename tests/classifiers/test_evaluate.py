import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from classifiers.evaluate import EvaluationReport, attribute_metrics, binary_auc


def test_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.random(300) + labels * 0.4, 1)  # many ties
    assert binary_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert np.isnan(binary_auc(scores, np.zeros(300)))


def test_metrics_on_a_hand_checked_example():
    p = torch.tensor([[0.9, 0.2], [0.8, 0.6], [0.3, 0.1], [0.1, 0.4]])
    y = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    m = attribute_metrics(p, y)
    assert m["accuracy"].tolist() == pytest.approx([0.75, 0.75])
    assert m["balanced_accuracy"][0] == pytest.approx((2 / 3 + 1) / 2)
    assert m["balanced_accuracy"][1] == pytest.approx(0.75)  # no positives: the true-negative rate
    assert m["auc"][0] == pytest.approx(1.0) and np.isnan(m["auc"][1])
    assert m["positive_rate"].tolist() == pytest.approx([0.75, 0.0])


def test_report_table_and_csv(tmp_path):
    p = torch.tensor([[0.9, 0.2], [0.2, 0.7], [0.6, 0.1]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    report = EvaluationReport(("Smiling", "Male"), 3, attribute_metrics(p, y))
    table = report.table()
    assert "Smiling" in table and "mean accuracy 83.33%" in table
    report.to_csv(tmp_path / "m.csv")
    import pandas as pd

    frame = pd.read_csv(tmp_path / "m.csv")
    assert list(frame["attribute"]) == ["Smiling", "Male"]
    assert frame["accuracy"].tolist() == pytest.approx([2 / 3, 1.0])
    assert {"balanced_accuracy", "auc", "mean_confidence"} <= set(frame.columns)
