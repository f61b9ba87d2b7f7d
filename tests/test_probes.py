import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from classifiers import load_classifier_set
from genomekit.cli import app
from genomekit.probes import ProbeConfig, collect_probe_samples, fit_probes, split_indices
from genomekit.training import load_generator
from tests.metrics.artefacts import make_classifiers, make_images, make_model


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe-artefacts")
    data = make_images(root / "data")
    return {
        "genome": make_model(root, data, "genome"),
        "mapping": make_model(root, data, "mapping"),
        "classifiers": make_classifiers(root / "clf"),
    }


def synthetic_genome(n=2000, genes=6, variants=8, length=4, seed=0):
    """Gene sequences, their w (a random genome's lookup) and labels that are known functions of one gene."""
    rng = np.random.default_rng(seed)
    genome = rng.normal(size=(genes, variants, length))  # (G, V, D)
    sequences = rng.integers(0, variants, (n, genes))  # (N, G)
    w = genome[np.arange(genes), sequences].reshape(n, genes * length)  # (N, G*D)
    labels = np.stack(
        [
            np.isin(sequences[:, 2], [0, 2, 5, 7]),  # half the variants of gene 2
            np.isin(sequences[:, 4], [3, 6]),  # a quarter of gene 4's variants: 25% positive
            rng.random(n) < 0.5,  # unrelated to the code
        ],
        1,
    ).astype(np.int64)
    return sequences, w, labels


FAST = ProbeConfig(samples=2000, hidden=64, batch_size=64, learning_rate=3e-3, epochs=30, patience=5, seed=0)


def test_one_hot_probe_recovers_attributes_that_are_functions_of_one_gene():
    sequences, _, labels = synthetic_genome()
    scores = fit_probes(sequences, labels, split_indices(len(labels), 0.1, 0.1, seed=0), FAST, one_hot_variants=8)
    assert scores.accuracy[:2].min() > 0.99, scores.accuracy
    assert abs(scores.majority[1] - 0.75) < 0.08  # the baseline an imbalanced attribute gets for free
    assert 0.38 < scores.balanced_accuracy[2] < 0.62  # the unrelated attribute stays at chance


@pytest.mark.slow
def test_mlp_probe_on_w_recovers_attributes_that_are_functions_of_one_gene():
    sequences, w, labels = synthetic_genome()
    scores = fit_probes(w, labels, split_indices(len(w), 0.1, 0.1, seed=0), FAST)
    assert scores.accuracy[:2].min() > 0.97, scores.accuracy
    assert 0.38 < scores.balanced_accuracy[2] < 0.62
    assert scores.epochs.min() >= 1 and scores.epochs.max() <= FAST.epochs


def test_probe_on_a_shuffled_gene_fails():
    # Same labels, but gene 2 replaced by noise: the one-hot probe must drop to chance on attribute 0.
    sequences, _, labels = synthetic_genome(n=1500)
    sequences = sequences.copy()
    sequences[:, 2] = np.random.default_rng(9).integers(0, 8, len(sequences))
    split = split_indices(len(sequences), 0.1, 0.1, seed=0)
    scores = fit_probes(sequences, labels, split, FAST, one_hot_variants=8)
    assert scores.balanced_accuracy[0] < 0.62 and scores.accuracy[1] > 0.99


def test_split_is_a_seeded_partition():
    train, val, test = split_indices(1000, 0.1, 0.1, seed=3)
    assert (len(train), len(val), len(test)) == (800, 100, 100)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(1000))
    again = split_indices(1000, 0.1, 0.1, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    assert not np.array_equal(split_indices(1000, 0.1, 0.1, seed=4)[2], test)


def test_samples_are_codes_and_labels_independent_of_the_batch_size(artefacts):
    classifier = load_classifier_set(artefacts["classifiers"])
    genome = load_generator(artefacts["genome"])
    a = collect_probe_samples(genome, classifier, num=10, seed=1, batch_size=3)
    b = collect_probe_samples(genome, classifier, num=10, seed=1, batch_size=10, columns=[2, 0])
    assert a.w.shape == (10, 16) and a.sequences.shape == (10, 4) and a.num_variants == 8
    np.testing.assert_array_equal(a.sequences, b.sequences)
    np.testing.assert_allclose(a.probabilities[:, [2, 0]], b.probabilities, atol=1e-5)
    assert b.attribute_names == ("Male", "Smiling")
    with torch.no_grad():
        np.testing.assert_allclose(a.w, genome.latent.lookup(torch.as_tensor(a.sequences)).numpy(), atol=1e-6)
    mapping = load_generator(artefacts["mapping"])
    m = collect_probe_samples(mapping, classifier, num=5, seed=1)
    assert m.sequences is None and m.w.shape == (5, 16) and ((m.probabilities >= 0) & (m.probabilities <= 1)).all()


def test_cli_prints_the_table_2_comparison_and_writes_its_files(artefacts, tmp_path):
    out = tmp_path / "probes"
    args = ["probe", "--genome", str(artefacts["genome"]), "--mapping", str(artefacts["mapping"]),
            "--classifiers", str(artefacts["classifiers"]), "--samples", "200", "--hidden", "16", "--epochs", "3",
            "--latent-metrics", "--out", str(out), "--device", "cpu", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (
        "| attribute | genome w acc | genome one-hot acc | mapping w acc | genome majority | mapping majority |"
        in result.output
    )
    assert "train/val/test 160/20/20" in result.output
    assert "| separability |" in result.output and "| MIG |" in result.output
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "disentanglement.csv", "probes.csv", "probes.json", "probes.md", "probes.png"
    ]  # fmt: skip
    table = pd.read_csv(out / "probes.csv")
    assert table["attribute"].tolist() == ["Smiling", "Eyeglasses", "Male", "mean"]
    accuracies = table[["genome w acc", "genome one-hot acc", "mapping w acc"]].to_numpy()
    assert ((accuracies >= 0) & (accuracies <= 1)).all()
    assert table.loc[3, "genome w acc"] == pytest.approx(table.loc[:2, "genome w acc"].mean())
    doc = json.loads((out / "probes.json").read_text())
    assert doc["split_sizes"] == [160, 20, 20] and set(doc["metrics"]) == {"genome w", "genome genes", "mapping w"}
    assert (out / "probes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --genome CKPT and/or --mapping CKPT"),
        (["--genome", "{mapping}"], "the --genome model has a mapping latent; pass it as --mapping"),
        (["--genome", "{genome}", "--attr", "smilng"], "did you mean: Smiling"),
        (["--genome", "{genome}", "--samples", "5"], "--samples must be at least 20"),
    ],
)
def test_cli_user_errors_are_one_line(artefacts, args, message):
    args = [a.format(**{k: str(v) for k, v in artefacts.items()}) for a in args]
    result = CliRunner().invoke(
        app, ["probe", "--classifiers", str(artefacts["classifiers"]), "--device", "cpu", *args]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


# -- precision: bfloat16 autocast runs on the CPU --------------------------------------------------


def test_bf16_samples_agree_with_fp32(artefacts):
    classifier = load_classifier_set(artefacts["classifiers"])
    for kind in ("genome", "mapping"):
        model = load_generator(artefacts[kind])
        exact = collect_probe_samples(model, classifier, num=64, seed=0)
        bf16 = collect_probe_samples(model, classifier, num=64, seed=0, precision="bf16")
        np.testing.assert_array_equal(bf16.w, exact.w)  # the latents stay float32
        assert bf16.probabilities.dtype == np.float32
        difference = np.abs(bf16.probabilities - exact.probabilities)
        assert 0 < difference.max() < 0.005  # measured 5e-4 (an untrained classifier, p near 0.5)
        assert (bf16.labels == exact.labels).mean() >= 0.95  # measured: all equal


@pytest.mark.slow
def test_bf16_labels_of_the_shipped_model_agree_with_fp32():
    """What probe accuracy rests on: the labels. On the shipped model a few probabilities near 0.5 cross it."""
    model = load_generator("default")
    classifier = load_classifier_set("default", resolution=model.config.resolution)
    exact = collect_probe_samples(model, classifier, num=256, seed=0)
    bf16 = collect_probe_samples(model, classifier, num=256, seed=0, precision="bf16")
    agree = (bf16.labels == exact.labels).mean(0)  # (A,)
    assert agree.mean() >= 0.98 and agree.min() >= 0.95  # measured 99.4% and 97.9% (512 samples)
    assert np.abs(bf16.probabilities - exact.probabilities).mean() < 0.02  # measured 0.006


def test_cli_precision(artefacts, monkeypatch):
    import genomekit.precision

    calls = []
    monkeypatch.setattr(genomekit.precision, "configure_backends", lambda device, exact: calls.append((device, exact)))
    args = ["probe", "--genome", str(artefacts["genome"]), "--classifiers", str(artefacts["classifiers"]),
            "--samples", "40", "--hidden", "8", "--epochs", "2", "--device", "cpu", "--no-progress"]  # fmt: skip
    exact = CliRunner().invoke(app, args)
    bf16 = CliRunner().invoke(app, [*args, "--precision", "bf16"])
    assert exact.exit_code == 0 and bf16.exit_code == 0, bf16.output
    assert "| attribute | genome w acc |" in bf16.output
    assert calls == [("cpu", True), ("cpu", False)]  # exact float32 only for fp32
    if not torch.cuda.is_available():
        refused = CliRunner().invoke(app, [*args, "--precision", "fp16"])
        assert refused.exit_code == 2
        assert refused.output.strip() == "error: precision fp16 needs a CUDA device; use bf16 (or fp32) on the CPU"
    bad = CliRunner().invoke(app, [*args, "--precision", "fp8"])
    assert bad.exit_code == 2 and bad.output.strip() == "error: --precision must be one of fp32, bf16, fp16, got 'fp8'"
