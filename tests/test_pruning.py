import pytest
import torch

from genomekit.genome import Genome
from genomekit.pruning import prune_genome, pruning_plan


def test_plan_picks_least_and_most_real():
    realness = torch.tensor([[0.5, -2.0, 3.0, 1.0, -1.0, 2.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    targets, sources = pruning_plan(realness, 2)
    assert targets.tolist() == [[1, 4], [0, 1]]
    assert sources.tolist() == [[2, 5], [5, 4]]
    empty_t, empty_s = pruning_plan(realness, 0)
    assert empty_t.shape == (2, 0) and empty_s.shape == (2, 0)


def test_unseen_variants_are_pruned_first():
    realness = torch.tensor([[0.5, float("nan"), 3.0, 1.0]])
    targets, _ = pruning_plan(realness, 1)
    assert targets.tolist() == [[1]]


def test_count_is_bounded():
    with pytest.raises(ValueError, match="V/2"):
        pruning_plan(torch.zeros(2, 6), 4)


def test_pruning_changes_exactly_the_chosen_variants():
    torch.manual_seed(0)
    genome = Genome(5, 8, 3, num_ws=2)
    before = genome.genes.detach().clone()
    realness = torch.randn(5, 8, generator=torch.Generator().manual_seed(1))
    targets, sources = pruning_plan(realness, 3)
    prune_genome(genome, targets, sources)
    after = genome.genes.detach()
    changed = (after != before).any(-1)  # (G, V)
    expected = torch.zeros(5, 8, dtype=torch.bool)
    expected[torch.arange(5).unsqueeze(1), targets] = True
    assert torch.equal(changed, expected)
    for gene in range(5):
        for t, s in zip(targets[gene].tolist(), sources[gene].tolist(), strict=True):
            assert torch.equal(after[gene, t], before[gene, s])
