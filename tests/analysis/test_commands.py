"""The analysis commands end to end on real tiny artefacts: a genome checkpoint, a classifier set and
statistics collected from them."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from genomekit.cli import app
from genomekit.training import load_generator
from tests.conftest import make_image_folder
from tests.stats.artefacts import make_checkpoint, make_classifiers

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    model = make_checkpoint(root / "g.safetensors", num_genes=4, num_variants=8)
    clf = make_classifiers(root / "clf")
    stats = root / "stats"
    result = invoke(
        "collect-stats",
        "--model",
        model,
        "--classifiers",
        clf,
        "--samples",
        1024,
        "--batch",
        128,
        "--chunk-size",
        512,
        "--out",
        stats,
        "--seed",
        0,
        "--device",
        "cpu",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    data = make_image_folder(root / "data", count=40, resolution=8)
    return {
        "root": root,
        "model": model,
        "clf": clf,
        "stats": stats,
        "data": data,
        "other": make_checkpoint(root / "other.safetensors", seed=5, num_genes=4, num_variants=8),
        "mapping": make_checkpoint(root / "map.safetensors", latent="mapping"),
    }


def test_report(world, tmp_path):
    out = tmp_path / "report"
    result = invoke(
        "report", world["stats"], "--out", out, "--model", world["model"], "--attr", "smiling", "--device", "cpu"
    )
    assert result.exit_code == 0, result.output
    for name in [
        "scores.csv",
        "top_genes.csv",
        "polar.png",
        "heatmap.png",
        "correlation_generated.png",
        "gene_edit_Smiling.png",
        "index.md",
        "index.html",
    ]:
        assert (out / name).is_file(), name
    scores = pd.read_csv(out / "scores.csv")
    assert (scores["noise_floor"] > 0).all()
    assert len(scores) == 4 * 3 and set(scores["attribute"]) == {"Smiling", "Eyeglasses", "Male"}
    assert "polar.png" in (out / "index.html").read_text()
    assert Image.open(out / "polar.png").size[0] > 500


def test_report_real_correlations_from_labels(world, tmp_path):
    import zipfile

    labelled = tmp_path / "labelled.zip"
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (20, 3))
    labels[:, 2] = labels[:, 0]  # Male follows Smiling exactly
    with zipfile.ZipFile(labelled, "w") as z:
        for i in range(20):
            img = Image.new("RGB", (8, 8), (i * 10, 0, 0))
            import io

            buf = io.BytesIO()
            img.save(buf, format="PNG")
            z.writestr(f"{i:03d}.png", buf.getvalue())
        z.writestr(
            "dataset.json",
            json.dumps(
                {
                    "attribute_names": ["smiling", "Eyeglasses", "MALE"],
                    "labels": [[f"{i:03d}.png", labels[i].tolist()] for i in range(20)],
                }
            ),
        )
    out = tmp_path / "r"
    result = invoke("report", world["stats"], "--out", out, "--data", labelled)
    assert result.exit_code == 0, result.output
    corr = pd.read_csv(out / "correlation_real.csv", index_col=0)
    assert corr.loc["Smiling", "Male"] == pytest.approx(1.0)
    expected = np.corrcoef(labels.T)
    assert corr.loc["Smiling", "Eyeglasses"] == pytest.approx(expected[0, 1])


def test_sample_with_score(world, tmp_path):
    out = tmp_path / "s"
    args = [
        "sample",
        "--model",
        world["model"],
        "--stats",
        world["stats"],
        "--attr",
        "smiling",
        "--attr",
        "no-eyeglasses",
        "--temp",
        0.5,
        "--samples",
        6,
        "--out",
        out,
        "--score",
        "--classifiers",
        world["clf"],
        "--device",
        "cpu",
    ]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "Smiling" in result.output and "Eyeglasses" in result.output and "unconditional" in result.output
    seqs = pd.read_parquet(out / "sequences.parquet")
    assert len(seqs) == 6 and list(seqs.columns) == ["sample_id", "gene_000", "gene_001", "gene_002", "gene_003"]
    assert seqs["gene_000"].dtype == np.uint16
    assert len(list((out / "images").glob("*.png"))) == 6 and (out / "grid.png").is_file()
    info = json.loads((out / "sample.json").read_text())
    assert info["conditions"] == ["Smiling", "no-Eyeglasses"] and info["temperature"] == 0.5
    assert info["sampler"] == "eq. 6 with statistics refined under itself (2 rounds x 256)"  # the default
    assert "sampler: eq. 6 with statistics refined under itself (2 rounds x 256); --refine 0" in result.output
    again = tmp_path / "s2"
    result = invoke(
        "sample",
        "--model",
        world["model"],
        "--stats",
        world["stats"],
        "--attr",
        "smiling",
        "--attr",
        "no-eyeglasses",
        "--temp",
        0.5,
        "--samples",
        6,
        "--out",
        again,
        "--device",
        "cpu",
    )
    assert result.exit_code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(again / "sequences.parquet"), seqs)


def test_sample_follows_eq6(world, tmp_path):
    """With --refine 0 (the paper's eq. 6), low temperature concentrates every gene on the variant with the
    highest collected p(smiling | variant)."""
    from genomekit.stats import attribute_given_variant, load_stats

    stats = load_stats(world["stats"])
    p = attribute_given_variant(stats.totals.sums, stats.totals.counts, min_count=0)[..., 0]  # (G, V) Smiling
    out = tmp_path / "cold"
    result = invoke(
        "sample",
        "--model",
        world["model"],
        "--stats",
        world["stats"],
        "--attr",
        "Smiling",
        "--temp",
        1e-4,
        "--samples",
        5,
        "--out",
        out,
        "--refine",
        0,
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    seqs = pd.read_parquet(out / "sequences.parquet").drop(columns="sample_id").to_numpy()
    assert (seqs == p.argmax(dim=1).numpy()).all()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--attr", "smilng"], "did you mean: Smiling"),
        (["--attr", "smiling", "--temp", "0"], "must be a finite number > 0"),
        (["--attr", "smiling", "--temp", "inf"], "must be a finite number > 0"),
        (["--attr", "smiling", "--attr", "no-smiling"], "both present and absent"),
    ],
)
def test_sample_bad_input(world, tmp_path, extra, message):
    result = invoke("sample", "--model", world["model"], "--stats", world["stats"], "--out", tmp_path / "x", *extra)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_model_and_stats_must_match(world, tmp_path):
    result = invoke("sample", "--model", world["other"], "--stats", world["stats"], "--out", tmp_path / "x")
    assert result.exit_code == 2 and "collected from another model" in result.output
    result = invoke("sample", "--model", world["mapping"], "--stats", world["stats"], "--out", tmp_path / "x")
    assert result.exit_code == 2 and "mapping-network model" in result.output
    result = invoke(
        "sample", "--model", world["root"] / "none.safetensors", "--stats", world["stats"], "--out", tmp_path / "x"
    )
    assert result.exit_code == 2 and "not found" in result.output


def test_evaluate_conditional(world, tmp_path):
    out = tmp_path / "eval"
    result = invoke(
        "evaluate-conditional",
        "--model",
        world["model"],
        "--stats",
        world["stats"],
        "--attr",
        "male",
        "--temps",
        "1.0,0.5",
        "--samples",
        8,
        "--out",
        out,
        "--classifiers",
        world["clf"],
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "conditional.csv")
    assert len(table) == 4 and set(table["value"]) == {"yes", "no"} and set(table["temperature"]) == {1.0, 0.5}
    assert table["accuracy"].between(0, 1).all() and (table["fd_classifier"] >= 0).all()
    assert (out / "conditional.png").is_file()


def test_interpolate(world, tmp_path):
    out = tmp_path / "i"
    result = invoke(
        "interpolate",
        "--model",
        world["model"],
        "--from",
        "seed:1",
        "--to",
        "0,1,2,3",
        "--steps",
        5,
        "--out",
        out,
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    strip = Image.open(out / "interpolate_linear.png")
    assert strip.size == (5 * 8, 8)
    gif = Image.open(out / "interpolate_genes.gif")
    assert gif.n_frames == 8  # 5 forward, 3 back
    bad = invoke("interpolate", "--model", world["model"], "--from", "1,2", "--out", out)
    assert bad.exit_code == 2 and "4 variant indices" in bad.output


def test_prune(world, tmp_path):
    out = tmp_path / "pruned.safetensors"
    result = invoke(
        "prune",
        "--model",
        world["model"],
        "--stats",
        world["stats"],
        "--replace",
        2,
        "--out",
        out,
        "--data",
        world["data"],
        "--classifiers",
        world["clf"],
        "--samples",
        30,
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert "before" in result.output and "after" in result.output
    from genomekit.pruning import pruning_plan
    from genomekit.stats import load_stats, realness_given_variant

    stats = load_stats(world["stats"])
    targets, sources = pruning_plan(realness_given_variant(stats.totals.realness_sums, stats.totals.counts, 0), 2)
    before = load_generator(world["model"]).latent.genes
    after = load_generator(out).latent.genes
    expected = before.clone()
    for gene in range(4):
        expected[gene, targets[gene]] = before[gene, sources[gene]]
    assert torch.equal(after, expected) and not torch.equal(after, before)
    result = invoke("prune", "--model", world["model"], "--stats", world["stats"], "--replace", 5, "--out", out)
    assert result.exit_code == 2 and "V/2 = 4" in result.output


class PixelStats(torch.nn.Module):
    """A stand-in for Inception: per-channel mean and std of the uint8 image."""

    def forward(self, images):
        assert images.dtype == torch.uint8
        x = images.double()
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)


def test_evaluate_conditional_fid_column_matches_a_direct_computation(world, tmp_path):
    from analysis.conditional import Condition, evaluate_conditional
    from analysis.inputs import attribute_probabilities, load_stats_classifiers
    from genomekit.inference import render
    from genomekit.metrics.frechet import frechet_distance
    from genomekit.metrics.inception import to_uint8
    from genomekit.sampling import sample_conditional
    from genomekit.stats import load_stats
    from genomekit.training import load_checkpoint

    model, stats = load_checkpoint(world["model"]), load_stats(world["stats"])
    table = evaluate_conditional(
        model, stats, load_stats_classifiers(stats, world["clf"]), ["male"], [0.5], 16, tmp_path / "e", seed=3,
        inception=PixelStats(),
    )  # fmt: skip
    G, p_attr = load_checkpoint(world["model"]).generator(), attribute_probabilities(stats)
    extractor = PixelStats()

    def features(seqs):
        return extractor(to_uint8(render(G, seqs))).numpy()

    ref = features(G.latent.sample(16, torch.Generator().manual_seed(4)).cpu())
    index = stats.attributes.index("Male")
    for present, row in zip((True, False), table.itertuples(), strict=True):
        seqs = sample_conditional(
            G.latent, p_attr, [Condition("Male", index, present)], 0.5, 16, torch.Generator().manual_seed(3),
        ).cpu()  # fmt: skip
        got = features(seqs)
        expected = frechet_distance(got.mean(0), np.cov(got, rowvar=False), ref.mean(0), np.cov(ref, rowvar=False))
        assert row.fid == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_evaluate_conditional_fid_needs_the_inception_file(world, tmp_path):
    result = invoke(
        "evaluate-conditional", "--model", world["model"], "--stats", world["stats"], "--attr", "male",
        "--out", tmp_path / "e", "--classifiers", world["clf"], "--fid", "--inception", tmp_path / "none.pt",
    )  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "e").exists()


def test_polar_labels_group_attributes_by_top_gene():
    from analysis.report import label_groups

    scores = np.array([[0.1, 3.0, 0.2], [2.0, 1.0, 0.5], [0.3, 0.2, 0.1]])  # (G=3, A=3)
    assert label_groups(scores) == {1: [0, 2], 0: [1]}


def test_sample_needs_the_steering_set_only_to_refine(world, tmp_path):
    stats = tmp_path / "stats"
    shutil.copytree(world["stats"], stats)
    manifest = json.loads((stats / "manifest.json").read_text())
    manifest["classifier_source"] = str(tmp_path / "moved")
    (stats / "manifest.json").write_text(json.dumps(manifest))
    common = ["sample", "--model", world["model"], "--stats", stats, "--attr", "smiling", "--samples", 2,
              "--device", "cpu"]  # fmt: skip
    refused = invoke(*common, "--out", tmp_path / "r")
    assert refused.exit_code == 2 and "--refine 0 samples without it" in refused.output
    assert not (tmp_path / "r").exists()
    plain = invoke(*common, "--out", tmp_path / "p", "--refine", 0)
    assert plain.exit_code == 0, plain.output
    assert json.loads((tmp_path / "p" / "sample.json").read_text())["sampler"] == "eq. 6"
    gibbs = invoke(*common, "--out", tmp_path / "g", "--gibbs")  # fits its surrogate to the rows, no set needed
    assert gibbs.exit_code == 0, gibbs.output
    assert "Gibbs sampling" in json.loads((tmp_path / "g" / "sample.json").read_text())["sampler"]
    assert "sampler: eq. 5 by Gibbs sampling" in gibbs.output
