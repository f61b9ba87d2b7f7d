"""torch.compile of the forward passes (genomekit.compile) and the up-front noise it needs.

The graph-capture tests use the "aot_eager" backend with ``fullgraph=True``: the whole forward is one
graph (no graph break) and AOTAutograd traces its backward, without generating kernels, so they run in
seconds. The inductor test (generated C++ kernels on CPU) takes minutes: `make test` leaves it to
`make test-inductor` (tests/training/test_compile_train.py compiles the same networks with inductor).
"""

import logging

import pytest
import torch

from classifiers import CelebAHQClassifierSet, CelebAHQConfig, CelebAHQNetwork
from classifiers.celebahq import blur_kernel
from genomekit.compile import CompiledModule, compile_module, unavailable_reason
from genomekit.networks import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

pytestmark = pytest.mark.usefixtures("fresh_dynamo")


def tiny_generator(latent: str, seed: int = 0) -> Generator:
    torch.manual_seed(seed)  # test-only: random weights
    config = GeneratorConfig(
        latent=latent, num_genes=4, num_variants=8, gene_length=4, resolution=8, channel_base=128, channel_max=16
    )
    G = Generator(config)
    with torch.no_grad():
        for module in G.modules():
            if hasattr(module, "noise_strength"):
                module.noise_strength.fill_(0.3)  # zero at initialisation: the noise would not show
    return G


def tiny_discriminator(seed: int = 0) -> Discriminator:
    torch.manual_seed(seed)
    return Discriminator(DiscriminatorConfig(resolution=8, channel_base=128, channel_max=16))


def noise_maps_of(G: Generator, batch: int, seed: int) -> list[torch.Tensor]:
    return G.draw_noise(batch, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("latent", ["genome", "mapping"])
def test_noise_drawn_up_front_gives_the_generator_paths_images(latent):
    G = tiny_generator(latent)
    codes = G.sample_codes(3, torch.Generator().manual_seed(0))
    noise = noise_maps_of(G, 3, seed=7)
    assert [tuple(n.shape) for n in noise] == [(3, 1, 4, 4), (3, 1, 8, 8), (3, 1, 8, 8)]  # one per convolution
    assert len(noise) == G.synthesis.num_noise_maps
    rng = torch.Generator().manual_seed(7)
    with torch.no_grad():
        drawn_inside = G(codes, noise_mode="random", generator=rng)
        after_inside = torch.rand(4, generator=rng)  # the generator's state after the pass
        up_front = G(codes, noise_mode="random", noise=noise)
        const = G(codes, noise_mode="const")
    assert torch.equal(drawn_inside, up_front)
    rng = torch.Generator().manual_seed(7)
    G.draw_noise(3, rng)
    assert torch.equal(torch.rand(4, generator=rng), after_inside)  # the same numbers consumed
    assert not torch.equal(up_front, const)  # the noise shows


def test_noise_maps_are_checked():
    G = tiny_generator("genome")
    codes = G.sample_codes(2, torch.Generator().manual_seed(0))
    noise = noise_maps_of(G, 2, seed=0)
    with pytest.raises(ValueError, match="noise must be 3 maps"):
        G(codes, noise_mode="random", noise=noise[:2])
    with pytest.raises(ValueError, match=r"\(2, 1, 8, 8\)"):
        G(codes, noise_mode="random", noise=noise_maps_of(G, 3, seed=0))  # batch of 3 for 2 codes
    with pytest.raises(ValueError, match="noise_mode='random' only"):
        G(codes, noise_mode="const", noise=noise)
    with pytest.raises(ValueError, match="not both"):
        G(codes, noise_mode="random", noise=noise, generator=torch.Generator())
    G_quiet = Generator(GeneratorConfig(**{**G.config_dict(), "use_noise": False}))
    assert G_quiet.draw_noise(2, torch.Generator()) == [] and G_quiet.synthesis.num_noise_maps == 0


def _loss_and_grads(forward, module, *inputs):
    module.zero_grad(set_to_none=True)
    output = forward(*inputs)
    output.square().mean().backward()
    return output.detach(), {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("latent", ["genome", "mapping"])
def test_compiled_generator_is_one_graph_and_agrees_with_eager(latent):
    """fullgraph=True: G's forward with up-front noise (training) and with constant noise is one graph."""
    G = tiny_generator(latent)
    compiled = compile_module(G, True, backend="aot_eager")
    assert isinstance(compiled, CompiledModule)
    codes = G.sample_codes(4, torch.Generator().manual_seed(1))
    noise = noise_maps_of(G, 4, seed=2)
    eager_out, eager_grads = _loss_and_grads(lambda c: G(c, noise_mode="random", noise=noise), G, codes)
    out, grads = _loss_and_grads(lambda c: compiled(c, noise_mode="random", noise=noise), G, codes)
    assert compiled.compiled  # no fallback: the graph was captured whole
    torch.testing.assert_close(out, eager_out, rtol=0, atol=1e-5)
    assert grads.keys() == eager_grads.keys() and len(grads) > 0
    for name in grads:
        torch.testing.assert_close(grads[name], eager_grads[name], rtol=1e-5, atol=1e-6, msg=name)
    with torch.no_grad():
        torch.testing.assert_close(compiled(codes, noise_mode="const"), G(codes, noise_mode="const"), rtol=0, atol=1e-5)
    assert compiled.compiled
    assert list(compiled.state_dict()) == list(G.state_dict())  # checkpoints keep their keys


def test_compiled_discriminator_agrees_and_r1_needs_the_eager_module():
    D = tiny_discriminator()
    compiled = compile_module(D, True, backend="aot_eager")
    images = torch.randn(4, 3, 8, 8)
    eager_out, eager_grads = _loss_and_grads(D, D, images)
    out, grads = _loss_and_grads(compiled, D, images)
    assert compiled.compiled
    torch.testing.assert_close(out, eager_out, rtol=0, atol=1e-5)
    for name in eager_grads:
        torch.testing.assert_close(grads[name], eager_grads[name], rtol=1e-5, atol=1e-6, msg=name)
    # R1 differentiates D's backward: AOTAutograd's compiled backward is not differentiable, hence
    # genomekit.compile's rule to run the R1 pass through the eager module. If torch lifts this, R1 may
    # be compiled too.
    reals = images.clone().requires_grad_(True)
    (r1_grads,) = torch.autograd.grad(compiled(reals).sum(), reals, create_graph=True)
    with pytest.raises(RuntimeError, match="double backward"):
        r1_grads.square().sum().backward()


def test_compiled_celebahq_classifier_agrees_with_eager():
    torch.manual_seed(0)
    config = CelebAHQConfig(resolution=8, fmap_base=32, fmap_max=16)
    classifier = CelebAHQClassifierSet(["Male", "Smiling"], [CelebAHQNetwork(config) for _ in range(2)]).eval()
    assert "blur_filter" not in " ".join(classifier.state_dict())  # the buffer is not saved
    taps = torch.tensor([1.0, 2.0, 1.0])
    assert torch.equal(blur_kernel(), taps[:, None] * taps[None, :] / 16.0)
    compiled = compile_module(classifier, True, backend="aot_eager")
    images = torch.rand(4, 3, 8, 8) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(compiled(images), classifier(images), rtol=0, atol=1e-6)
    assert compiled.compiled
    assert compiled.attribute_names == ("Male", "Smiling")  # attributes are the module's


def test_graph_break_falls_back_to_eager_with_one_warning(caplog):
    """A draw from a torch.Generator inside the forward cannot be traced: fullgraph fails, eager runs."""
    G = tiny_generator("genome")
    compiled = compile_module(G, True, backend="eager")
    codes = G.sample_codes(2, torch.Generator().manual_seed(0))
    with torch.no_grad(), caplog.at_level(logging.WARNING, logger="genomekit.compile"):
        with pytest.raises(ValueError, match="gene sequences must have shape"):
            compiled(codes[:, :2])  # the module's own error, raised as it is, and compiling stays on
        assert compiled.compiled and not caplog.records
        out = compiled(codes, noise_mode="random", generator=torch.Generator().manual_seed(3))
        again = compiled(codes, noise_mode="random", generator=torch.Generator().manual_seed(3))
    expected = G(codes, noise_mode="random", generator=torch.Generator().manual_seed(3))
    assert torch.equal(out, expected) and torch.equal(again, expected)
    assert not compiled.compiled
    assert len(caplog.records) == 1 and "running it eagerly" in caplog.records[0].getMessage()


def test_disabled_or_unavailable_compile_returns_the_module(monkeypatch, caplog):
    D = tiny_discriminator()
    assert compile_module(D, False) is D
    with pytest.raises(ValueError, match="backend must be one of"):
        unavailable_reason("tvm", torch.device("cpu"))
    assert unavailable_reason("aot_eager", torch.device("cpu")) is None
    monkeypatch.setattr("genomekit.compile.unavailable_reason", lambda backend, device: "no C++ compiler")
    with caplog.at_level(logging.WARNING, logger="genomekit.compile"):
        assert compile_module(D, True) is D
    assert [r.getMessage() for r in caplog.records] == ["--compile: no C++ compiler; Discriminator runs eagerly"]


@pytest.mark.slow
@pytest.mark.inductor
def test_inductor_forwards_agree_with_eager():
    """The default backend: inductor's generated kernels (C++ on CPU) within 1e-5 of eager."""
    if (reason := unavailable_reason("inductor", torch.device("cpu"))) is not None:
        pytest.skip(reason)
    G, D = tiny_generator("genome"), tiny_discriminator()
    codes = G.sample_codes(4, torch.Generator().manual_seed(1))
    noise = noise_maps_of(G, 4, seed=2)
    compiled_G, compiled_D = compile_module(G, True), compile_module(D, True)
    with torch.no_grad():
        images = compiled_G(codes, noise_mode="random", noise=noise)
        torch.testing.assert_close(images, G(codes, noise_mode="random", noise=noise), rtol=0, atol=1e-5)
        torch.testing.assert_close(compiled_D(images), D(images), rtol=0, atol=1e-5)
    assert compiled_G.compiled and compiled_D.compiled
