"""collect-stats in bfloat16 (autocast, runs on the CPU) against float32: the same statistics within
bfloat16's rounding, a directory that remembers its precision, and fp16 refused off CUDA."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

from genomekit.cli import app
from genomekit.stats import load_stats


def _collect(out, *extra):
    args = ["collect-stats", "--model", "default", "--out", str(out), "--samples", "256", "--chunk-size", "128",
            "--device", "cpu", "--no-progress", *extra]  # fmt: skip
    return CliRunner().invoke(app, args)


def test_bf16_statistics_agree_with_fp32_and_the_directory_keeps_its_precision(tmp_path):
    assert _collect(tmp_path / "fp32").exit_code == 0
    result = _collect(tmp_path / "bf16", "--precision", "bf16")
    assert result.exit_code == 0, result.output
    exact, bf16 = load_stats(tmp_path / "fp32"), load_stats(tmp_path / "bf16")
    assert torch.equal(exact.totals.counts, bf16.totals.counts)  # the same gene sequences
    scores = (bf16.totals.sums - exact.totals.sums).abs().sum(1) / exact.samples  # (G, A) mean |dp| per sample
    assert float(scores.max()) < 0.02
    assert float((bf16.totals.sums - exact.totals.sums).abs().max()) > 0  # bf16 really ran
    realness = (bf16.totals.realness_sums - exact.totals.realness_sums).abs().sum(1) / exact.samples
    assert float(realness.max()) < 0.1  # D logits, |logit| ~ 1
    assert bf16.manifest["identity"]["precision"] == "bf16"
    again = _collect(tmp_path / "bf16", "--precision", "fp32")
    assert again.exit_code == 2 and "precision" in again.output and again.output.startswith("error: ")


def test_fp16_needs_cuda(tmp_path):
    if torch.cuda.is_available():
        return
    result = _collect(tmp_path / "s", "--precision", "fp16")
    assert result.exit_code == 2 and result.output.strip() == (
        "error: precision fp16 needs a CUDA device; use bf16 (or fp32) on the CPU"
    )
    assert not (tmp_path / "s").exists()
    bad = _collect(tmp_path / "s", "--precision", "fp8")
    assert bad.exit_code == 2 and "--precision must be one of fp32, bf16, fp16" in bad.output
