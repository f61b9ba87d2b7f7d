"""The analysis on a real model with planted structure: the shipped Genome GAN with every gene but
one (the gene with the largest share of the style variance, so that it moves many attributes)
collapsed to a single variant (V copies of its mean), so only that gene can change an image.
Whatever the networks do, the statistics must then name it as the top gene of every attribute that
varies, score the other genes at the sampling noise, and conditional sampling must move an attribute
by as much as its variants allow."""

from __future__ import annotations

import pytest
import torch

from tests.cli.world import invoke

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    from genomekit.training import load_discriminator, load_generator, save_inference_checkpoint
    from genomekit.training.health import genome_health

    root = tmp_path_factory.mktemp("planted")
    G, D = load_generator("default"), load_discriminator("default")
    kept = genome_health(G)["top_gene"]
    with torch.no_grad():
        genes = G.latent.genes  # (G, V, D)
        others = torch.arange(len(genes)) != kept
        genes[others] = genes[others].mean(dim=1, keepdim=True).expand_as(genes[others])
    model = root / "planted.safetensors"
    save_inference_checkpoint(model, G, D)
    stats = root / "stats"
    result = invoke("collect-stats", "--model", model, "--out", stats, "--samples", 8192, "--chunk-size", 4096,
                    "--device", "cpu", "--no-progress")  # fmt: skip
    assert result.exit_code == 0, result.output
    return {"model": model, "stats": stats, "root": root, "gene": kept}


def _scores(stats_dir):
    from genomekit.stats import attribute_given_variant, load_stats
    from genomekit.stats.scores import gene_standard_scores

    stats = load_stats(stats_dir)
    p = attribute_given_variant(stats.totals.sums, stats.totals.counts, min_count=0)  # (G, V, A)
    frequency = stats.totals.sums.sum(1)[0] / stats.samples  # (A,) mean probability
    return stats, p, gene_standard_scores(p), frequency


def test_the_kept_gene_is_the_top_gene_of_every_attribute_that_varies(planted):
    stats, p, scores, frequency = _scores(planted["stats"])
    kept = planted["gene"]
    others = torch.arange(len(p)) != kept
    spread = p[kept].max(0).values - p[kept].min(0).values  # (A,) how far the kept gene's variants move each
    varying = spread > 0.2
    assert varying.sum() >= 5  # the test means something: the kept gene moves several attributes
    top = scores.argmax(0)  # (A,)
    assert (top[varying] == kept).all(), [stats.attributes[a] for a in torch.nonzero(varying & (top != kept)).flatten()]
    # the other genes are one variant repeated: their scores are sampling noise, far below the kept gene's
    assert (scores[others][:, varying].max(0).values < 0.5 * scores[kept, varying]).all()
    # the statistics of every collapsed gene agree across its variants to within binomial noise
    counts = stats.totals.counts[others].to(torch.float64)  # (G-1, V)
    z = (p[others] - frequency) / (frequency * (1 - frequency) / counts.unsqueeze(2)).clamp(min=1e-12).sqrt()
    assert z[:, :, varying].abs().mean() < 1.2  # |N(0,1)| has mean 0.8


def test_conditional_sampling_moves_an_attribute_as_far_as_the_kept_gene_allows(planted, tmp_path):
    import pandas as pd

    stats, p, _, frequency = _scores(planted["stats"])
    kept = planted["gene"]
    spread = p[kept].max(0).values - p[kept].min(0).values
    attribute = int(spread.argmax())
    name = stats.attributes[attribute]
    best = float(p[kept, :, attribute].max())
    out = tmp_path / "sample"
    result = invoke("sample", "--model", planted["model"], "--stats", planted["stats"], "--attr", name, "--temp", 0.1,
                    "--samples", 64, "--score", "--out", out, "--device", "cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out / "scores.csv").iloc[0]
    # at T = 0.1 eq. 6 puts nearly all mass on the kept gene's best variants: the attribute shows about as
    # often as that variant's p(a | k_0 = v), far above the unconditional rate
    assert row.conditional_fraction > row.unconditional_fraction + 0.5 * (best - float(frequency[attribute]))
    assert row.conditional_fraction > best - 0.25
