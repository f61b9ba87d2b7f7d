"""analysis.train_report: the frequency swings against a plain numpy reference, and where they show."""

import json

import numpy as np
import pandas as pd

from analysis.train_report import frequency_swings, write_train_report


def _rows(kimgs, frequencies):
    return pd.DataFrame([{"kimg": k, "loss_G": 1.0, "loss_D": 1.0, "sample_frequencies": f}
                         for k, f in zip(kimgs, frequencies, strict=True)])  # fmt: skip


def test_swings_are_the_range_over_the_second_half_of_training():
    rng = np.random.default_rng(0)
    kimgs = [10, 20, 30, 40, 50, 60]
    values = rng.random((6, 3))
    values[2] = [0.0, 1.0, 0.0]  # at 30 kimg: before the second half, so it must not count
    rows = _rows(kimgs, [dict(zip("abc", v.round(4).tolist(), strict=True)) for v in values])
    rows.loc[len(rows)] = {"kimg": 65, "loss_G": 1.0, "loss_D": 1.0, "sample_frequencies": float("nan")}  # no health
    late = values[np.array(kimgs) >= 65 / 2].round(4)  # snapshots at 40, 50 and 60 kimg
    swings = frequency_swings(rows)
    expected = late.max(0) - late.min(0)
    order = np.argsort(-expected, kind="stable")
    assert swings["attribute"].tolist() == [list("abc")[i] for i in order]
    np.testing.assert_allclose(swings["swing"], expected[order])
    np.testing.assert_allclose(swings["low"], late.min(0)[order])
    assert frequency_swings(rows.drop(columns="sample_frequencies")).empty


def test_the_summary_names_the_largest_swings(tmp_path):
    frequencies = [{"Male": 0.45, "Smiling": 0.5}, {"Male": 0.7, "Smiling": 0.5}, {"Male": 0.2, "Smiling": 0.55}]
    (tmp_path / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in _rows([10, 20, 30], frequencies).to_dict("records"))
    )
    report = write_train_report(tmp_path)
    text = report.summary.read_text()
    assert "Largest frequency swings over the second half of training: Male 20% to 70%; Smiling 50% to 55%." in text
    assert report.figure.stat().st_size > 10_000
