import numpy as np
import pytest
import torch
from scipy import stats

from genomekit.genome import Genome, GenomeConfig


def make_genome(G=6, V=5, D=3, num_ws=4, seed=0):
    torch.manual_seed(seed)
    return Genome(G, V, D, num_ws)


def test_shapes_and_init():
    genome = make_genome(G=64, V=256, D=8)
    assert genome.genes.shape == (64, 256, 8)
    assert genome.shape == (64, 256, 8)
    assert genome.w_dim == 512
    # N(0, 1) initialisation (Appendix H)
    assert abs(genome.genes.mean().item()) < 0.02
    assert abs(genome.genes.std().item() - 1) < 0.02
    seq = genome.sample(7, torch.Generator().manual_seed(1))
    assert seq.shape == (7, 64) and seq.dtype == torch.int64
    assert genome(seq).shape == (7, 4, 512)


def test_uniform_sampling_chi_square():
    genome = make_genome(G=4, V=16)
    seq = genome.sample(40_000, torch.Generator().manual_seed(3))
    assert seq.min() >= 0 and seq.max() < 16
    for gene in range(4):
        counts = np.bincount(seq[:, gene].numpy(), minlength=16)
        p = stats.chisquare(counts).pvalue
        assert p > 1e-4, f"gene {gene} not uniform: p={p}"


def test_sampling_reproducible_by_seed():
    genome = make_genome()
    a = genome.sample(50, torch.Generator().manual_seed(42))
    b = genome.sample(50, torch.Generator().manual_seed(42))
    c = genome.sample(50, torch.Generator().manual_seed(43))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_lookup_equals_manual_concatenation():
    genome = make_genome(G=5, V=7, D=3)
    seq = genome.sample(9, torch.Generator().manual_seed(0))
    w = genome.lookup(seq)
    manual = torch.stack([torch.cat([genome.genes[i, seq[b, i]] for i in range(5)]) for b in range(9)])
    assert torch.equal(w, manual)
    ws = genome(seq)
    assert all(torch.equal(ws[:, layer], manual) for layer in range(genome.num_ws))


def test_lookup_rejects_wrong_shape():
    genome = make_genome(G=5)
    with pytest.raises(ValueError, match=r"\(B, 5\)"):
        genome.lookup(torch.zeros(3, 4, dtype=torch.long))


def test_gradient_reaches_only_selected_variants():
    genome = make_genome(G=3, V=4, D=2)
    seq = torch.tensor([[0, 1, 2]])
    genome(seq).sum().backward()
    used = genome.genes.grad.abs().sum(-1) > 0  # (G, V)
    expected = torch.zeros(3, 4, dtype=torch.bool)
    expected[0, 0] = expected[1, 1] = expected[2, 2] = True
    assert torch.equal(used, expected)


def test_categorical_sampling_follows_logits():
    genome = make_genome(G=2, V=4)
    logits = torch.full((2, 4), float("-inf"))
    logits[0, 1] = 0.0  # gene 0: always variant 1
    logits[1, 2] = 0.0
    logits[1, 3] = np.log(3.0)  # gene 1: variants 2 and 3 at 1:3
    seq = genome.sample_categorical(logits, 20_000, torch.Generator().manual_seed(0))
    assert seq.shape == (20_000, 2)
    assert (seq[:, 0] == 1).all()
    assert set(seq[:, 1].unique().tolist()) == {2, 3}
    assert abs((seq[:, 1] == 3).float().mean().item() - 0.75) < 0.015
    with pytest.raises(ValueError, match="shape"):
        genome.sample_categorical(torch.zeros(3, 4), 5)


def test_truncation():
    genome = make_genome(G=3, V=4, D=2, num_ws=5)
    seq = genome.sample(6, torch.Generator().manual_seed(0))
    full = genome(seq)
    assert torch.equal(genome(seq, truncation_psi=1.0), full)
    centre = genome.genes.mean(1).reshape(-1)
    assert torch.allclose(genome(seq, truncation_psi=0.0), centre.expand(6, 5, 6))
    half = genome(seq, truncation_psi=0.5, truncation_cutoff=2)
    assert torch.allclose(half[:, :2], (full[:, :2] + centre) / 2)
    assert torch.equal(half[:, 2:], full[:, 2:])


def test_replace_variants():
    genome = make_genome(G=3, V=6, D=2)
    before = genome.genes.detach().clone()
    genome.replace_variants(1, torch.tensor([0, 4]), torch.tensor([5, 5]))
    after = genome.genes.detach()
    assert torch.equal(after[1, 0], before[1, 5]) and torch.equal(after[1, 4], before[1, 5])
    changed = (after != before).any(-1)
    assert changed.sum() == 2 and changed[1, 0] and changed[1, 4]


def test_config_validation():
    with pytest.raises(ValueError, match="num_genes"):
        GenomeConfig(num_genes=0)
    with pytest.raises(ValueError, match="65535"):
        GenomeConfig(num_variants=70_000)
    assert GenomeConfig(num_genes=64, gene_length=8).w_dim == 512
