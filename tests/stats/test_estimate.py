import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from genomekit.stats.estimate import (
    UndersampledVariantsWarning,
    attribute_given_variant,
    realness_given_variant,
    undersampled_variants,
    variant_sums,
)


def random_samples(num_samples=3000, num_genes=5, num_variants=7, num_attributes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    genes = torch.randint(num_variants, (num_samples, num_genes), generator=g)
    scores = torch.rand(num_samples, num_attributes, generator=g)
    return genes, scores


def pandas_reference(genes, scores, num_variants):
    """sums (G, V, A), counts (G, V) and means by a pandas groupby per gene."""
    num_genes, num_attributes = genes.shape[1], scores.shape[1]
    frame = pd.DataFrame(scores.numpy().astype(np.float64), columns=[f"a{a}" for a in range(num_attributes)])
    sums = np.zeros((num_genes, num_variants, num_attributes))
    counts = np.zeros((num_genes, num_variants), dtype=np.int64)
    means = np.full((num_genes, num_variants, num_attributes), np.nan)
    for i in range(num_genes):
        grouped = frame.groupby(genes[:, i].numpy())
        s, c, m = grouped.sum(), grouped.size(), grouped.mean()
        sums[i, s.index] = s.to_numpy()
        counts[i, c.index] = c.to_numpy()
        means[i, m.index] = m.to_numpy()
    return sums, counts, means


def test_variant_sums_match_pandas_groupby():
    genes, scores = random_samples()
    sums, counts = variant_sums(genes, scores, 7)
    ref_sums, ref_counts, _ = pandas_reference(genes, scores, 7)
    assert sums.shape == (5, 7, 3) and sums.dtype == torch.float64
    assert counts.dtype == torch.int64
    np.testing.assert_array_equal(counts.numpy(), ref_counts)
    np.testing.assert_allclose(sums.numpy(), ref_sums, rtol=1e-12)
    assert int(counts.sum()) == 3000 * 5


def test_variant_sums_are_bitwise_reproducible_and_sample_ordered():
    genes, scores = random_samples(num_samples=2000)
    sums, _ = variant_sums(genes, scores, 7)
    again, _ = variant_sums(genes.to(torch.int16), scores, 7)
    assert torch.equal(sums, again)
    sequential = torch.zeros_like(sums)
    for i in range(genes.shape[1]):
        sequential[i].index_add_(0, genes[:, i], scores.double())
    assert torch.equal(sums, sequential)


def test_shard_sums_add_up_to_the_full_sums():
    genes, scores = random_samples()
    full_sums, full_counts = variant_sums(genes, scores, 7)
    parts = [variant_sums(genes[s : s + 700], scores[s : s + 700], 7) for s in range(0, 3000, 700)]
    assert torch.equal(sum(p[1] for p in parts), full_counts)
    torch.testing.assert_close(sum(p[0] for p in parts), full_sums, rtol=1e-12, atol=1e-12)


def test_attribute_given_variant_is_eq7_with_nan_for_unseen_variants():
    genes, scores = random_samples(num_samples=400, num_variants=6)
    genes[genes == 5] = 4  # variant 5 never appears
    sums, counts = variant_sums(genes, scores, 6)
    _, _, ref_means = pandas_reference(genes, scores, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = attribute_given_variant(sums, counts, min_count=0)
    np.testing.assert_allclose(p.numpy(), ref_means, rtol=1e-12)
    assert torch.isnan(p[:, 5]).all()
    assert ((p[:, :5] >= 0) & (p[:, :5] <= 1)).all()


def test_undersampled_pairs_are_listed_in_a_warning():
    genes, scores = random_samples(num_samples=200, num_genes=2, num_variants=4)
    genes[:, 1] = torch.where(genes[:, 1] == 3, 0, genes[:, 1])
    genes[0, 1] = 3  # gene 1, variant 3 seen once
    sums, counts = variant_sums(genes, scores, 4)
    with pytest.warns(UndersampledVariantsWarning, match=r"1 \(gene, variant\) pairs .*gene 1, variant 3: 1"):
        attribute_given_variant(sums, counts, min_count=10)
    assert undersampled_variants(counts, 10).tolist() == [[1, 3]]


def test_realness_given_variant_is_the_mean_logit():
    genes, _ = random_samples(num_samples=500, num_genes=3, num_variants=4)
    realness = torch.randn(500, generator=torch.Generator().manual_seed(1))
    sums, counts = variant_sums(genes, realness.unsqueeze(1), 4)
    mean = realness_given_variant(sums[..., 0], counts, min_count=0)
    for i in range(3):
        for j in range(4):
            assert mean[i, j].item() == pytest.approx(realness[genes[:, i] == j].double().mean().item(), rel=1e-12)


def test_bad_inputs_are_refused():
    genes, scores = random_samples(num_samples=10)
    with pytest.raises(ValueError, match="variant indices"):
        variant_sums(genes, scores, 3)
    with pytest.raises(ValueError, match="expected genes"):
        variant_sums(genes[:5], scores, 7)
    with pytest.raises(ValueError, match="integer"):
        variant_sums(genes.float(), scores, 7)


def test_threaded_accumulation_gives_the_same_bits():
    genes, scores = random_samples(num_samples=30_000, num_genes=6, num_variants=9, num_attributes=40)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)  # large enough input: genes are spread over two threads
    try:
        threaded, counts = variant_sums(genes, scores, 9)
    finally:
        torch.set_num_threads(previous)
    sequential = torch.zeros_like(threaded)
    for i in range(genes.shape[1]):
        sequential[i].index_add_(0, genes[:, i], scores.double())
    assert torch.equal(threaded, sequential)
    assert int(counts.sum()) == 30_000 * 6
