"""genome-from-mapping: rotation folded exactly, quantisation measured, determinism, CLI end to end."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genomekit.cli import app
from genomekit.genome_from_mapping import (
    QuantizeConfig,
    fit_rotation,
    fold_rotation,
    genome_from_mapping,
    sample_w,
)
from genomekit.networks import DiscriminatorConfig, Generator, GeneratorConfig
from genomekit.training import TrainConfig, load_generator, train
from genomekit.training.checkpoint import checkpoint_metadata
from tests.conftest import make_image_folder
from tests.stats.artefacts import make_checkpoint, make_classifiers

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def mapping_model(tmp_path_factory):
    """A tiny mapping-network GAN trained for 12 steps (w 16, 8 px)."""
    root = tmp_path_factory.mktemp("g2m")
    data = make_image_folder(root / "data", count=32, resolution=8)
    config = TrainConfig(
        data=str(data),
        generator=GeneratorConfig(
            latent="mapping",
            num_genes=4,
            gene_length=4,
            mapping_layers=2,
            resolution=8,
            channel_base=128,
            channel_max=16,
        ),
        discriminator=DiscriminatorConfig(resolution=8, channel_base=128, channel_max=16),
        batch_size=8,
        total_kimg=0.096,
        snapshot_kimg=0.096,
        seed=1,
    )
    path = train(config, root / "run", log_interval_s=1e9)
    return {"root": root, "model": path, "data": data}


@pytest.mark.parametrize("rotation", ["none", "pca", "ica"])
def test_rotation_folded_into_the_affines_is_exact(mapping_model, rotation):
    G = load_generator(mapping_model["model"])
    w = sample_w(G, 2000, seed=0, batch=512)
    rot = fit_rotation(w, rotation, num_genes=4, seed=0)
    torch.testing.assert_close(rot.mixing @ rot.unmixing, torch.eye(16, dtype=torch.float64), atol=1e-8, rtol=0)
    u = (w[:6] - rot.mean) @ rot.unmixing.T  # (6, 16)
    folded = Generator(G.config)
    folded.load_state_dict(G.state_dict())
    fold_rotation(folded, rot)
    with torch.no_grad():
        ws = w[:6].float().unsqueeze(1).expand(-1, G.num_ws, -1)
        us = u.float().unsqueeze(1).expand(-1, G.num_ws, -1)
        torch.testing.assert_close(folded.synthesis(us), G.synthesis(ws), atol=1e-4, rtol=0)


def test_pca_components_are_dealt_round_robin(mapping_model):
    G = load_generator(mapping_model["model"])
    w = sample_w(G, 4000, seed=0, batch=1024)
    rot = fit_rotation(w, "pca", num_genes=4, seed=0)
    u = (w - rot.mean) @ rot.unmixing.T
    variance = u.var(0).numpy()  # position g*D + d holds the (g + d*G)-th strongest component
    order = np.array([g + d * 4 for g in range(4) for d in range(4)])
    assert np.all(np.diff(variance[np.argsort(order)]) <= 1e-9)
    assert np.allclose(np.cov(u.numpy().T), np.diag(variance), atol=1e-6 * variance.max())


def test_quantisation_report_matches_a_direct_computation_and_is_deterministic(mapping_model):
    G = load_generator(mapping_model["model"])
    config = QuantizeConfig(num_genes=4, num_variants=16, rotation="pca", samples=3000, seed=3, iterations=30)
    genome, report = genome_from_mapping(G, config, progress=lambda line: None)
    again, _ = genome_from_mapping(G, config, progress=lambda line: None)
    assert torch.equal(genome.latent.genes, again.latent.genes)
    other, _ = genome_from_mapping(G, QuantizeConfig(**{**config.__dict__, "seed": 4}), progress=lambda line: None)
    assert not torch.equal(genome.latent.genes, other.latent.genes)
    # Direct: the same w samples, rotated; each gene's chunk to its nearest variant.
    w = sample_w(G, 3000, seed=3, batch=4096)
    rot = fit_rotation(w, "pca", 4, 3)
    u = ((w - rot.mean) @ rot.unmixing.T).float().reshape(3000, 4, 4)
    for g in range(4):
        chunk = u[:, g]  # (N, D)
        nearest = torch.cdist(chunk, genome.latent.genes[g]).min(dim=1).values.square().mean()
        expected = nearest / chunk.var(0, unbiased=False).sum()
        assert report.relative_error[g] == pytest.approx(expected.item(), rel=1e-3)
        assert report.relative_error[g] < 0.5  # 16 centroids in 4 dimensions explain most of the variance
    masses = report.masses
    assert masses.shape == (4, 16) and torch.allclose(masses.sum(1), torch.ones(4, dtype=masses.dtype))


def test_balanced_clusters_carry_equal_mass(mapping_model):
    G = load_generator(mapping_model["model"])
    config = QuantizeConfig(num_genes=4, num_variants=8, rotation="pca", samples=800, balanced=True, iterations=10)
    _, report = genome_from_mapping(G, config, progress=lambda line: None)
    assert torch.allclose(report.masses, torch.full((4, 8), 1 / 8, dtype=report.masses.dtype))


def test_cli_converts_and_the_result_loads_everywhere(mapping_model, tmp_path):
    out = tmp_path / "genome.safetensors"
    result = invoke(
        "genome-from-mapping", "--model", mapping_model["model"], "--genes", 4, "--variants", 16,
        "--samples", 2000, "--rotation", "ica", "--out", out, "--device", "cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "relative quantisation error" in result.output
    G = load_generator(out)
    assert G.genome_shape == (4, 16, 4)
    source = checkpoint_metadata(out)["source"]
    assert source["kind"] == "genome-from-mapping" and source["rotation"] == "ica"
    clf = make_classifiers(tmp_path / "clf")
    stats = tmp_path / "stats"
    result = invoke(
        "collect-stats", "--model", out, "--classifiers", clf, "--samples", 512, "--batch", 128,
        "--chunk-size", 256, "--out", stats, "--device", "cpu", "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = invoke("report", stats, "--out", tmp_path / "report", "--model", out)
    assert result.exit_code == 0, result.output
    result = invoke(
        "sample", "--model", out, "--stats", stats, "--classifiers", clf, "--attr", "Smiling", "--temp", 0.5,
        "--samples", 8, "--out", tmp_path / "sample", "--score",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_cli_finetune_runs_and_resumes(mapping_model, tmp_path):
    out = tmp_path / "tuned.safetensors"
    args = [
        "genome-from-mapping", "--model", mapping_model["model"], "--genes", 4, "--variants", 8, "--samples", 500,
        "--out", out, "--finetune-kimg", 0.024, "--data", mapping_model["data"], "--batch", 8, "--device", "cpu",
    ]  # fmt: skip
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    run = tmp_path / "tuned-finetune"
    assert (run / "quantised.safetensors").is_file() and (run / "checkpoint.safetensors").is_file()
    quantised, tuned = load_generator(run / "quantised.safetensors"), load_generator(out)
    assert not torch.equal(quantised.latent.genes, tuned.latent.genes)  # the genome was trained
    meta = checkpoint_metadata(out)
    assert meta["source"]["finetune_kimg"] == 0.024 and meta["progress"]["nimg"] >= 24
    out.unlink()
    result = invoke(*args)  # a rerun reuses the quantised model and resumes the finished run
    assert result.exit_code == 0, result.output
    assert "reusing" in result.output
    assert torch.equal(load_generator(out).latent.genes, tuned.latent.genes)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--genes", 5, "--variants", 8], "does not divide"),
        (["--genes", 4, "--variants", 5000, "--samples", 1000], "--variants (5000) cannot exceed --samples"),
        (["--genes", 4, "--variants", 8, "--rotation", "svd"], "rotation must be one of"),
        (["--genes", 4, "--variants", 8, "--finetune-kimg", 1], "needs --data"),
    ],
)
def test_bad_input_gives_one_line(mapping_model, tmp_path, extra, message):
    out = tmp_path / "g.safetensors"
    result = invoke("genome-from-mapping", "--model", mapping_model["model"], "--out", out, *extra)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output
    assert not out.exists()


def test_a_genome_model_is_refused(tmp_path):
    genome = make_checkpoint(tmp_path / "genome.safetensors")
    result = invoke("genome-from-mapping", "--model", genome, "--genes", 4, "--variants", 8, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "needs a mapping-network model" in result.output
