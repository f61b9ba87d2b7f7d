"""analysis.train_report: the frequency swings and the genome's concentration against plain numpy references."""

import json

import numpy as np
import pandas as pd

from analysis.train_report import frequency_swings, genome_concentration, write_train_report


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


def test_concentration_is_the_participation_ratio_of_the_style_shares():
    rng = np.random.default_rng(1)
    shares, spreads = rng.random((4, 5)), rng.random((4, 5)) + 0.5
    shares[:, 2] += [0.0, 3.0, 3.0, 3.0]  # gene 2 leads from 20 kimg on; gene 0 leads at 10 kimg
    shares[0, 0] = 5.0
    rows = pd.DataFrame({"kimg": [10, 20, 30, 40], "gene_style_share": [list(v) for v in shares],
                         "gene_spread": [list(v) for v in spreads]})  # fmt: skip
    rows.loc[len(rows)] = {"kimg": 45, "gene_style_share": float("nan"), "gene_spread": float("nan")}  # no health
    concentration = genome_concentration(rows)
    normalised = shares / shares.sum(1, keepdims=True)
    np.testing.assert_allclose(concentration["effective_genes"], [1 / np.sum(p**2) for p in normalised])
    top = shares.argmax(1)
    median_others = [np.median(np.delete(spreads[i], top[i])) for i in range(4)]
    np.testing.assert_allclose(concentration["spread_ratio"], spreads[np.arange(4), top] / median_others)
    assert concentration["kimg"].tolist() == [10, 20, 30, 40]
    assert top.tolist() == [0, 2, 2, 2] and set(concentration["leader_since"]) == {20.0}
    even = genome_concentration(rows.assign(gene_style_share=[[1.0] * 5] * 5).iloc[:4])
    np.testing.assert_allclose(even["effective_genes"], 5.0)
    assert genome_concentration(rows.drop(columns=["gene_style_share", "gene_spread"])).empty
