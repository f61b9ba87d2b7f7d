import itertools

import numpy as np
import pytest
import torch

from genomekit.sampling import Condition
from genomekit.surrogate import SequenceSurrogate, fit_surrogate, sample_gibbs


def _surrogate(genes: int, variants: int, length: int, attributes: int, seed: int = 0) -> SequenceSurrogate:
    torch.manual_seed(seed)
    table = torch.randn(genes, variants, length, generator=torch.Generator().manual_seed(seed))
    model = SequenceSurrogate(table, attributes, hidden=16)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)  # a surrogate with decided opinions, so the target distribution is far from uniform
    return model.eval()


def test_per_gene_contributions_reproduce_the_first_layer():
    model = _surrogate(4, 5, 3, 2)
    k = torch.randint(0, 5, (7, 4), generator=torch.Generator().manual_seed(1))
    terms = model.contributions()  # (G, V, H)
    direct = model.first_layer(k)
    summed = terms[torch.arange(4), k].sum(1) + model.first.bias
    assert torch.allclose(direct, summed, atol=1e-5)
    # swapping one gene's term is the same as re-evaluating the changed sequence
    changed = k.clone()
    changed[:, 2] = 4
    swapped = direct - terms[2, k[:, 2]] + terms[2, 4]
    assert torch.allclose(swapped, model.first_layer(changed), atol=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_gibbs_draws_the_exact_target_distribution_on_an_enumerable_genome(temperature):
    model = _surrogate(2, 3, 2, 2, seed=3)
    conditions = [Condition("a", 0, True), Condition("b", 1, False)]
    every = torch.tensor(list(itertools.product(range(3), repeat=2)))  # (9, G)
    with torch.no_grad():
        logits = model(every).double()
    log_target = torch.nn.functional.logsigmoid(logits[:, 0]) + torch.nn.functional.logsigmoid(-logits[:, 1])
    target = torch.softmax(log_target / temperature, 0).numpy()  # (9,)
    draws = sample_gibbs(model, conditions, temperature, 40_000, sweeps=4, generator=torch.Generator().manual_seed(0))
    index = (draws[:, 0] * 3 + draws[:, 1]).numpy()
    empirical = np.bincount(index, minlength=9) / len(index)
    assert target.max() > 3 * target.min()  # the test distinguishes the target from uniform
    assert np.abs(empirical - target).max() < 0.01  # binomial SE at 40k draws: <= 0.0025


def test_no_condition_or_no_sweep_is_uniform_and_draws_are_reproducible():
    model = _surrogate(3, 4, 2, 1)
    condition = [Condition("a", 0, True)]
    first = sample_gibbs(model, condition, 0.5, 64, generator=torch.Generator().manual_seed(5))
    again = sample_gibbs(model, condition, 0.5, 64, generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, again) and first.shape == (64, 3)
    uniform = sample_gibbs(model, [], 0.5, 64, generator=torch.Generator().manual_seed(5))
    assert torch.equal(
        uniform, sample_gibbs(model, condition, 0.5, 64, sweeps=0, generator=torch.Generator().manual_seed(5))
    )
    with pytest.raises(ValueError, match="temperature"):
        sample_gibbs(model, condition, 0.0, 4)


def test_fit_learns_an_attribute_that_no_single_gene_carries():
    # p(a | k) = 1 when genes 0 and 1 carry the same variant parity (an XOR: no single gene says anything,
    # so eq. 6's single-gene statistics are flat), else 0.
    genes = torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(0))
    k = torch.randint(0, 4, (6000, 3), generator=torch.Generator().manual_seed(1))
    label = ((k[:, 0] % 2) == (k[:, 1] % 2)).float().unsqueeze(1)
    model, fit = fit_surrogate(genes, k, label, ["same_parity"], epochs=30, generator=torch.Generator().manual_seed(2))
    assert fit.agreement[0] > 0.97 and fit.balanced_agreement[0] > 0.97 and fit.rows == 5400
    _, fit2 = fit_surrogate(genes, k, label, ["same_parity"], epochs=30, generator=torch.Generator().manual_seed(2))
    assert fit2.val_loss == fit.val_loss
    draws = sample_gibbs(
        model, [Condition("same_parity", 0, True)], 0.5, 2000, generator=torch.Generator().manual_seed(3)
    )
    assert ((draws[:, 0] % 2) == (draws[:, 1] % 2)).float().mean() > 0.95  # uniform draws: 0.5
