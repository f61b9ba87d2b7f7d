"""genomekit.inference: batched rendering and scoring equal one pass over everything, on tiny seeded networks."""

import pytest
import torch

from classifiers import MultiHeadClassifierSet, MultiHeadConfig
from genomekit.inference import render, score
from genomekit.networks import Generator, GeneratorConfig


@pytest.fixture(scope="module")
def networks():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(
            GeneratorConfig(num_genes=4, num_variants=8, gene_length=4, resolution=8, channel_base=128, channel_max=16)
        ).eval()
        classifiers = MultiHeadClassifierSet(
            ["a", "b", "c"], MultiHeadConfig(resolution=8, stem_channels=4, channels=(8,))
        )
    return G, classifiers.eval()


def test_render_is_the_generator_with_constant_noise_in_any_batch_size(networks):
    G, _ = networks
    codes = G.sample_codes(10, torch.Generator().manual_seed(1))  # (10, G)
    seen = []
    images = render(G, codes, batch_size=4, on_batch=seen.append)
    with torch.no_grad():
        expected = G(codes, noise_mode="const")
    assert images.shape == (10, 3, 8, 8) and images.dtype == torch.float32 and images.device.type == "cpu"
    assert torch.allclose(images, expected, atol=1e-6) and seen == [4, 4, 2]
    assert torch.allclose(render(G, codes, batch_size=64), images, atol=1e-6)
    assert render(G, codes[:0]).shape == (0, 3, 8, 8)
    with pytest.raises(ValueError, match="batch_size"):
        render(G, codes, batch_size=0)


def test_score_gives_probabilities_and_features_of_one_pass(networks):
    _, classifiers = networks
    images = torch.rand(7, 3, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1
    seen = []
    probabilities, features = score(classifiers, images, batch_size=3, on_batch=seen.append)
    with torch.no_grad():
        expected_p, expected_f = classifiers.probabilities_and_features(images)
    assert probabilities.shape == (7, 3) and features.shape[0] == 7 and seen == [3, 3, 1]
    assert torch.allclose(probabilities, expected_p, atol=1e-6) and torch.allclose(features, expected_f, atol=1e-6)
    # ClassifierSet.score batches through the same function
    assert torch.equal(classifiers.score(images, batch_size=3), probabilities)
    assert torch.equal(classifiers.score(images, batch_size=3, features=True), features)
    with pytest.raises(ValueError, match="at least one image"):
        score(classifiers, images[:0])
