import numpy as np
import pytest
import torch

from genomekit.genome import Genome
from genomekit.sampling import (
    Condition,
    conditional_logits,
    conditional_probabilities,
    gene_substitution_path,
    linear_ws,
    parse_condition,
    parse_conditions,
    sample_conditional,
)

NAMES = ["Smiling", "No_Beard", "Male"]


def resolve(name):
    table = {n.lower().replace("_", "").replace("-", "").replace(" ", ""): n for n in NAMES}
    key = name.lower().replace("_", "").replace("-", "").replace(" ", "")
    if key not in table:
        raise KeyError(f"unknown attribute {name!r}")
    return table[key]


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("smiling", ("Smiling", 0, True)),
        ("SMILING", ("Smiling", 0, True)),
        ("no-smiling", ("Smiling", 0, False)),
        ("not smiling", ("Smiling", 0, False)),
        ("!smiling", ("Smiling", 0, False)),
        ("smiling=0", ("Smiling", 0, False)),
        ("male=yes", ("Male", 2, True)),
        ("no-beard", ("No_Beard", 1, True)),  # an attribute name wins over the negation reading
        ("no-no-beard", ("No_Beard", 1, False)),
    ],
)
def test_parse_condition(spec, expected):
    c = parse_condition(spec, NAMES, resolve)
    assert (c.attribute, c.index, c.present) == expected


def test_parse_errors():
    with pytest.raises(KeyError, match="smilng"):
        parse_condition("no-smilng", NAMES, resolve)
    with pytest.raises(ValueError, match="after '='"):
        parse_condition("smiling=maybe", NAMES, resolve)
    with pytest.raises(ValueError, match="both present and absent"):
        parse_conditions(["smiling", "no-smiling"], NAMES, resolve)
    assert len(parse_conditions(["smiling", "Smiling"], NAMES, resolve)) == 1


def random_p(G=5, V=7, A=3, seed=0):
    return torch.tensor(np.random.default_rng(seed).uniform(0.01, 0.99, (G, V, A)))


def test_logits_match_direct_numpy_for_negation_and_multiple_attributes():
    p = random_p()
    conditions = [Condition("Smiling", 0, True), Condition("No_Beard", 1, False)]
    T = 0.7
    got = conditional_probabilities(p, conditions, T).numpy()
    q = p.numpy()
    unnorm = q[..., 0] ** (1 / T) * (1 - q[..., 1]) ** (1 / T)
    np.testing.assert_allclose(got, unnorm / unnorm.sum(1, keepdims=True), rtol=1e-10)


def test_no_underflow_with_forty_attributes():
    p = torch.full((4, 256, 40), 1e-4, dtype=torch.float64)
    p[:, 3] = 0.9
    conditions = [Condition(f"a{i}", i, True) for i in range(40)]
    probs = conditional_probabilities(p, conditions, temperature=0.1)
    assert torch.isfinite(probs).all()
    assert torch.allclose(probs[:, 3], torch.ones(4, dtype=torch.float64))


def test_temperature_must_be_positive():
    for T in (0, -1):
        with pytest.raises(ValueError, match="temperature"):
            conditional_logits(random_p(), [Condition("Smiling", 0, True)], T)


def test_unseen_variants_are_never_sampled():
    p = random_p()
    p[2, 4] = torch.nan
    probs = conditional_probabilities(p, [Condition("Smiling", 0, True)], 1.0)
    assert probs[2, 4] == 0 and torch.allclose(probs.sum(1), torch.ones(5, dtype=torch.float64))


def test_low_temperature_picks_planted_variants():
    torch.manual_seed(0)
    genome = Genome(6, 10, 2, num_ws=2)
    p = torch.full((6, 10, 2), 0.5, dtype=torch.float64)
    p[2, 7, 0] = 0.95  # gene 2 variant 7 makes attribute 0 likely
    p[2, :7, 0] = 0.2
    seqs = sample_conditional(genome, p, [Condition("x", 0, True)], 0.05, 2000, torch.Generator().manual_seed(0))
    assert (seqs[:, 2] == 7).float().mean() > 0.99
    other = torch.bincount(seqs[:, 4], minlength=10)  # an unrelated gene stays uniform
    assert other.min() > 120
    neg = sample_conditional(genome, p, [Condition("x", 0, False)], 0.05, 2000, torch.Generator().manual_seed(0))
    assert (neg[:, 2] < 7).float().mean() > 0.99
    same = sample_conditional(genome, p, [Condition("x", 0, True)], 0.05, 2000, torch.Generator().manual_seed(0))
    assert torch.equal(seqs, same)


def test_shape_mismatch_is_refused():
    genome = Genome(6, 10, 2, num_ws=2)
    with pytest.raises(ValueError, match="genome of 5 genes"):
        sample_conditional(genome, random_p(G=5, V=10), [], 1.0, 3)


def test_interpolation_paths():
    torch.manual_seed(0)
    genome = Genome(4, 5, 3, num_ws=6)
    a, b = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 4, 4, 4])
    ws = linear_ws(genome, a, b, 5)
    assert ws.shape == (5, 6, 12)
    assert torch.allclose(ws[0, 0], genome.lookup(a[None])[0]) and torch.allclose(ws[-1, 0], genome.lookup(b[None])[0])
    assert torch.allclose(ws[2, 0], (ws[0, 0] + ws[-1, 0]) / 2)
    path = gene_substitution_path(a, b, 5)
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert [(row != a).sum().item() for row in path] == [0, 1, 2, 3, 4]
    order = gene_substitution_path(a, b, 3, order=[3, 2, 1, 0])
    assert torch.equal(order[1], torch.tensor([0, 1, 4, 4]))


def test_refined_statistics_match_a_numpy_reestimate_on_the_same_draws():
    from genomekit.sampling import Condition, conditional_logits, refine_statistics

    genome = Genome(3, 5, 2, num_ws=2)
    rng = np.random.default_rng(0)
    p = torch.tensor(rng.uniform(0.1, 0.9, (3, 5, 2)))
    p[2, 4] = float("nan")  # never seen: stays out
    condition = Condition("a", 1, True)

    def score(seqs):  # attribute 1 is present exactly when gene 0 takes variant 3
        return torch.stack([torch.zeros(len(seqs)), (seqs[:, 0] == 3).double()], dim=1)

    torch.testing.assert_close(refine_statistics(genome, p, [condition], 0.5, score, rounds=0), p, equal_nan=True)
    refined = refine_statistics(genome, p, [condition], 0.5, score, rounds=1, samples=400, prior=2.0,
                                generator=torch.Generator().manual_seed(1))  # fmt: skip
    seqs = genome.sample_categorical(conditional_logits(p, [condition], 0.5), 400, torch.Generator().manual_seed(1))
    hit = (seqs[:, 0] == 3).double().numpy()
    expected = p.clone().numpy()
    for gene in range(3):
        for variant in range(5):
            if np.isnan(p[gene, variant, 1].item()):
                continue
            carriers = seqs[:, gene].numpy() == variant
            expected[gene, variant, 1] = (hit[carriers].sum() + 2.0 * p[gene, variant, 1].item()) / (carriers.sum() + 2)
    np.testing.assert_allclose(refined.numpy(), expected, rtol=1e-12)
    assert torch.isnan(refined[2, 4]).all()
    torch.testing.assert_close(refined[..., 0], p[..., 0], equal_nan=True)
    # after a few rounds eq. 6 finds the variant that carries the attribute
    table = refine_statistics(genome, p, [condition], 0.3, score, rounds=4, samples=400,
                              generator=torch.Generator().manual_seed(2))  # fmt: skip
    assert int(table[0, :, 1].argmax()) == 3
