"""Path-length regularisation reaches the latent source, as in NVlabs' StyleGAN2Loss."""

import pytest
import torch

from genomekit.networks import Generator
from genomekit.training.loop import path_length_penalty
from tests.training.test_train import tiny_config


@pytest.mark.parametrize("latent", ["genome", "mapping"])
def test_penalty_gradient_reaches_the_latent_source(tmp_path, latent):
    config = tiny_config(tmp_path, latent=latent, style_mixing=0.0)
    torch.manual_seed(0)
    G = Generator(config.generator)
    rng = torch.Generator().manual_seed(1)
    penalty, mean = path_length_penalty(G, 4, config, rng, torch.tensor(0.5))
    latent_params = [p for p in G.latent.parameters()]
    grads = torch.autograd.grad(penalty, latent_params, allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert not mean.requires_grad and mean.ndim == 0


def test_running_mean_is_lerped_and_penalty_uses_it(tmp_path):
    config = tiny_config(tmp_path, style_mixing=0.0, pl_decay=0.25)
    torch.manual_seed(0)
    G = Generator(config.generator)
    rng_a, rng_b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    penalty, mean = path_length_penalty(G, 4, config, rng_a, torch.tensor(2.0))
    # The same draw by hand: lengths from the Jacobian-vector product with respect to ws.
    codes = G.sample_codes(4, rng_b)
    ws = G.mapping(codes)
    images = G.synthesis(ws, noise_mode="random", generator=rng_b)
    noise = torch.randn(images.shape, generator=rng_b) / images.shape[2]
    (grads,) = torch.autograd.grad((images * noise).sum(), ws)
    lengths = grads.square().sum(2).mean(1).sqrt()
    expected_mean = 2.0 + 0.25 * (lengths.mean() - 2.0)
    torch.testing.assert_close(mean, expected_mean.detach())
    torch.testing.assert_close(penalty.detach(), (lengths - expected_mean).square().mean())
