"""Training health: the genome's per-gene style-variance shares against a direct computation, the
sample figures against a plain numpy reference, and snapshots that carry them (deterministically)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genomekit.training import load_generator
from genomekit.training.health import HealthMonitor, Reference, genome_health, sample_health


def _styles(G, sequences):
    """Every synthesis layer's styles (the affine of w), concatenated: (B, S)."""
    w = G.latent.lookup(sequences)  # (B, w_dim)
    affines = [m.affine for m in G.synthesis.modules() if hasattr(m, "affine")]
    return torch.cat([a(w) for a in affines], dim=1)


@torch.no_grad()
def test_style_share_is_the_variance_each_gene_adds_to_the_styles():
    # the first shipped Genome (until December 2026), whose collapse issue 13 measured
    G = load_generator(
        Path(__file__).resolve().parents[1] / "fixtures" / "shipped_v1" / "synth_faces_genome.safetensors"
    )
    health = genome_health(G)
    num_genes, num_variants = G.latent.num_genes, G.latent.num_variants
    base = torch.zeros(num_genes, dtype=torch.long)
    variance = []
    for gene in range(num_genes):  # vary one gene over all its variants, the others fixed
        sequences = base.repeat(num_variants, 1)
        sequences[:, gene] = torch.arange(num_variants)
        variance.append(_styles(G, sequences).double().var(dim=0, unbiased=False).sum())
    variance = torch.stack(variance)
    np.testing.assert_allclose(health["gene_style_share"], (variance / variance.sum()).numpy(), atol=2e-5)
    # its collapse: gene 3 carries about a third
    assert health["top_gene"] == 3 and health["top_gene_share"] == pytest.approx(0.325, abs=0.002)
    spread = G.latent.genes.double().std(dim=1, unbiased=False).square().mean(1).sqrt()
    np.testing.assert_allclose(health["gene_spread"], spread.numpy(), atol=1e-5)


@torch.no_grad()
def test_sample_figures_match_a_numpy_reference(tiny_dataset):
    from classifiers import load_classifier_set
    from genomekit.data import open_dataset
    from genomekit.training.health import real_reference

    G = load_generator("default")
    classifiers = load_classifier_set("default", resolution=32)
    dataset = open_dataset(tiny_dataset)
    reference = real_reference(dataset, classifiers, samples=20)
    reals = torch.stack([dataset[i] for i in range(20)]).float() / 127.5 - 1
    real_p, real_f = (t.double().numpy() for t in classifiers.probabilities_and_features(reals))
    np.testing.assert_allclose(reference.mean, real_f.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(reference.frequencies, (real_p > 0.5).mean(0))
    figures = sample_health(G, classifiers, reference, tuple(classifiers.attribute_names), batch_size=7)
    codes = G.sample_codes(20, torch.Generator().manual_seed(0x5EED))
    fake_p, fake_f = (t.double().numpy() for t in classifiers.probabilities_and_features(G(codes).clamp(-1, 1)))
    gaps = np.abs((fake_p > 0.5).mean(0) - (real_p > 0.5).mean(0))
    assert figures["freq_gap"] == pytest.approx(gaps.max())
    assert figures["freq_gap_attribute"] == classifiers.attribute_names[int(gaps.argmax())]

    def pairwise(x):
        d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
        return d[np.triu_indices(len(x), 1)].mean()

    assert figures["diversity"] == pytest.approx(pairwise(fake_f) / pairwise(real_f), rel=1e-5)
    assert figures["fd_cls"] > 0


@pytest.mark.slow
def test_snapshots_carry_health_and_resume_reproduces_it(tiny_dataset, tmp_path):
    from classifiers import load_classifier_set
    from genomekit.training import train
    from tests.training.test_train import tiny_config

    config = tiny_config(tiny_dataset, total_kimg=0.048, snapshot_kimg=0.016)

    def monitor():
        return HealthMonitor(load_classifier_set("default", resolution=16), samples=16)

    train(config, tmp_path / "a", health=monitor(), keep_snapshots=True, log_interval_s=0)
    train(config, tmp_path / "b", health=monitor(), log_interval_s=0, max_steps=3)
    train(config, tmp_path / "b", resume=True, health=monitor(), log_interval_s=0)
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["nimg"] for r in rows] == [16, 32, 48]
    for key in ("gene_style_share", "top_gene_share", "fd_cls", "diversity", "freq_gap", "freq_gap_attribute"):
        assert key in rows[-1]
    assert sum(rows[-1]["gene_style_share"]) == pytest.approx(1.0, abs=1e-4)
    assert sorted(p.name for p in (tmp_path / "a" / "snapshots").iterdir()) == [
        f"network-{n:09d}.safetensors" for n in (16, 32, 48)
    ]
    again = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    drop = {"time", "img_per_s", "sec_per_kimg"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in again] == [
        {k: v for k, v in r.items() if k not in drop} for r in rows
    ]
    assert isinstance(Reference.load(next((tmp_path / "a").glob("health_reference_*.npz"))), Reference)


@pytest.mark.slow
def test_train_report_plots_the_run_and_metrics_health_repeats_its_last_snapshot(tiny_dataset, tmp_path):
    from typer.testing import CliRunner

    from classifiers import load_classifier_set
    from genomekit.cli import app
    from genomekit.training import train
    from tests.training.test_train import tiny_config

    run = tmp_path / "run"
    config = tiny_config(tiny_dataset, total_kimg=0.032, snapshot_kimg=0.016)
    train(
        config, run, health=HealthMonitor(load_classifier_set("default", resolution=16), samples=16), log_interval_s=0
    )
    result = CliRunner().invoke(app, ["train-report", str(run)])
    assert result.exit_code == 0, result.output
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert f"top_gene_share {last['top_gene_share']:.4g}" in result.output
    assert (run / "train_report.png").stat().st_size > 10_000
    assert f"| {last['top_gene']} |" in (run / "train_report.md").read_text()
    missing = CliRunner().invoke(app, ["train-report", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and missing.output.startswith("error: ") and "no metrics.jsonl" in missing.output

    # `metrics health` at the snapshot's sample count and seed repeats the last snapshot's figures.
    csv, cache = tmp_path / "health.csv", tmp_path / "cache"
    command = ["metrics", "health", "--model", str(run / "checkpoint.safetensors"), "--data", str(tiny_dataset),
               "--samples", "16", "--device", "cpu", "--no-progress", "--cache", str(cache)]  # fmt: skip
    health = CliRunner().invoke(app, command + ["--out", str(csv)])
    assert health.exit_code == 0, health.output
    assert "from the cache" not in health.output and len(list(cache.glob("health-*-n16.npz"))) == 1
    again = CliRunner().invoke(app, command)  # the real images' statistics from the cache: the same figures
    assert again.exit_code == 0 and "statistics came from the cache" in again.output
    assert again.output.splitlines()[:4] == health.output.splitlines()[:4]
    from genomekit.data import open_dataset
    from genomekit.training.health import measure_health

    scored = []  # with the cache only the 16 generated images are scored
    cached = measure_health(load_generator(run / "checkpoint.safetensors"), load_classifier_set("default", resolution=16),
                            open_dataset(tiny_dataset), 16, on_batch=scored.append, cache_dir=cache)  # fmt: skip
    assert cached.cached and sum(scored) == 16 and f"FD_cls {cached.figures['fd_cls']:.4f}" in health.output
    lines = health.output.splitlines()
    assert lines[0].startswith(f"FD_cls {last['fd_cls']:.4f}  (16 generated vs the first 16 images")
    assert lines[1].startswith(f"diversity {last['diversity']:.3f}")
    assert lines[2].startswith(f"largest attribute-frequency gap {last['freq_gap']:.3f}: {last['freq_gap_attribute']}")
    assert lines[3].startswith(f"top gene {last['top_gene']}: {last['top_gene_share']:.1%} of the style variance")
    table = pd.read_csv(csv)
    assert table["attribute"].tolist()[0] == last["freq_gap_attribute"] and table["gap"].is_monotonic_decreasing
    generated = table.set_index("attribute")["generated"]
    assert {a: round(v, 4) for a, v in generated.items()} == pytest.approx(last["sample_frequencies"], abs=1e-4)
    np.testing.assert_allclose(table["gap"], (table["generated"] - table["data"]).abs(), atol=1e-4)

    # A reader that stops after the first line (``| head -1``) closes the pipe; the CSV is written all the same.
    import shlex
    import subprocess
    import sys

    piped = tmp_path / "piped.csv"
    line = shlex.join([sys.executable, "-m", "genomekit", *command, "--out", str(piped)])
    shown = subprocess.run(f"{line} | head -1", shell=True, capture_output=True, text=True, check=True)
    assert shown.stdout.startswith("FD_cls ") and len(shown.stdout.splitlines()) == 1
    assert piped.read_text() == csv.read_text()


def test_metrics_health_refuses_a_cache_that_is_a_file_before_any_work(tmp_path):
    from typer.testing import CliRunner

    from genomekit.cli import app

    out = tmp_path / "health.csv"
    result = CliRunner().invoke(app, ["metrics", "health", "--model", "default", "--data", str(tmp_path / "none.zip"),
                                      "--cache", __file__, "--out", str(out)])  # fmt: skip
    assert result.exit_code == 2 and result.output.strip() == f"error: --cache {__file__} is a file; give a directory"
    assert not out.exists()
