import numpy as np
import pandas as pd
import pytest
import torch

from genomekit.stats.scores import gene_standard_scores, scores_frame, top_genes


def planted(G=12, V=16, A=3, seed=0, noise=0.01):
    """p(a | k_i = j) with gene 5 controlling attribute 0 and gene 9 controlling attribute 2."""
    rng = np.random.default_rng(seed)
    p = 0.4 + noise * rng.standard_normal((G, V, A))
    p[5, :, 0] = np.where(np.arange(V) % 2 == 0, 0.1, 0.9)
    p[9, :, 2] = np.linspace(0.05, 0.95, V)
    return torch.tensor(p)


def reference_scores(p, scale):
    """Plain numpy: per (gene, attribute), mean_j |p - mean_j p| / sigma."""
    p = p.numpy()
    G, V, A = p.shape
    out = np.zeros((G, A))
    for a in range(A):
        sigma_codebook = p[:, :, a].std()
        for i in range(G):
            values = p[i, :, a]
            sigma = values.std() if scale == "gene" else sigma_codebook
            out[i, a] = np.mean(np.abs(values - values.mean())) / sigma
    return out


@pytest.mark.parametrize("scale", ["codebook", "gene"])
def test_scores_match_numpy_reference(scale):
    p = planted()
    np.testing.assert_allclose(gene_standard_scores(p, scale).numpy(), reference_scores(p, scale), rtol=1e-10)


def test_planted_gene_gets_the_top_score():
    scores = gene_standard_scores(planted())
    assert scores[:, 0].argmax() == 5
    assert scores[:, 2].argmax() == 9
    assert scores[5, 0] > 5 * scores[:, 0][torch.arange(12) != 5].max()
    top = top_genes(scores, ["a", "b", "c"], k=1)
    assert top.set_index("attribute").loc["a", "gene"] == 5
    assert top.set_index("attribute").loc["c", "gene"] == 9


def test_per_gene_scale_is_bounded_by_one():
    # the reason the default normalises by the codebook's spread: per-gene z-scores cannot exceed 1 on average
    scores = gene_standard_scores(planted(), scale="gene")
    assert (scores <= 1 + 1e-12).all()


def test_unseen_variants_are_left_out():
    p = planted()
    q = p.clone()
    q[3, 7] = torch.nan  # never sampled
    s = gene_standard_scores(q)
    assert torch.isfinite(s).all()
    kept = torch.cat([p[3, :7], p[3, 8:]])  # gene 3 without variant 7
    mu = kept.mean(0)
    expected_num = (kept - mu).abs().mean(0)
    assert torch.allclose(s[3] * gene_standard_scores_sigma(q), expected_num, rtol=1e-10)


def gene_standard_scores_sigma(p):
    flat = p.reshape(-1, p.shape[2])
    values = [flat[~torch.isnan(flat[:, a]), a] for a in range(p.shape[2])]
    return torch.stack([v.std(unbiased=False) for v in values])


def test_constant_attribute_scores_zero():
    p = planted()
    p[:, :, 1] = 0.3
    assert (gene_standard_scores(p)[:, 1] == 0).all()


def test_scores_frame_is_tidy_and_ranked():
    scores = gene_standard_scores(planted())
    frame = scores_frame(scores, ["x", "y", "z"])
    assert list(frame.columns) == ["gene", "attribute", "score", "rank"]
    assert len(frame) == 12 * 3
    for _, group in frame.groupby("attribute"):
        assert list(group["rank"]) == list(range(1, 13))
        assert group["score"].is_monotonic_decreasing
    pivot = frame.pivot(index="gene", columns="attribute", values="score")
    expected = pd.DataFrame(
        scores.numpy(), columns=pd.Index(["x", "y", "z"], name="attribute"), index=pd.Index(range(12), name="gene")
    )
    pd.testing.assert_frame_equal(pivot, expected)


def test_noise_floor_predicts_the_score_of_genes_without_effect():
    """Estimates from Bernoulli samples where no gene matters: every score sits at the noise floor."""
    from genomekit.stats.scores import noise_floor

    rng = np.random.default_rng(0)
    G, V, n, rate = 16, 32, 200, 0.3
    counts = torch.full((G, V), n)
    hits = rng.binomial(n, rate, size=(G, V, 1))
    p = torch.tensor(hits / n)
    floor = noise_floor(p, counts, torch.tensor([rate * (1 - rate)]))
    scores = gene_standard_scores(p)[:, 0]
    assert abs(scores.mean().item() - floor.item()) < 0.05 * floor.item()
    # a planted gene stands far above it
    p[3, :, 0] = torch.tensor(np.where(np.arange(V) % 2 == 0, 0.1, 0.5))
    assert gene_standard_scores(p)[3, 0] > 3 * noise_floor(p, counts, torch.tensor([rate * (1 - rate)]))[0]
