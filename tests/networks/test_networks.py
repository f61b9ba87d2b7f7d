import math

import pytest
import torch
import torch.nn.functional as F

from genomekit.genome import Genome
from genomekit.networks import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, MappingNetwork
from genomekit.networks.discriminator import minibatch_stddev
from genomekit.networks.layers import legacy_downsample2x as downsample2x
from genomekit.networks.layers import legacy_upsample2x as upsample2x
from genomekit.networks.layers import modulated_conv2d


def tiny_generator(latent="genome", resolution=16, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = GeneratorConfig(
        latent=latent,
        num_genes=4,
        num_variants=8,
        gene_length=4,
        resolution=resolution,
        channel_base=256,
        channel_max=32,
        **kw,
    )
    return Generator(cfg)


@pytest.mark.parametrize("latent", ["genome", "mapping"])
@pytest.mark.parametrize("resolution", [16, 32])
def test_generator_shapes(latent, resolution):
    G = tiny_generator(latent, resolution)
    codes = G.sample_codes(3, torch.Generator().manual_seed(0))
    assert codes.shape == ((3, 4) if latent == "genome" else (3, 16))
    images = G(codes)
    assert images.shape == (3, 3, resolution, resolution)
    assert torch.isfinite(images).all()
    assert G.num_ws == 2 * int(math.log2(resolution) - 1)  # two per block, 4 px block has one + final toRGB
    assert G.mapping(codes).shape == (3, G.num_ws, 16)
    assert (G.genome_shape == (4, 8, 4)) if latent == "genome" else G.genome_shape is None


def test_latent_sources_share_the_call_shape():
    Gg, Gm = tiny_generator("genome"), tiny_generator("mapping")
    assert isinstance(Gg.latent, Genome) and isinstance(Gm.latent, MappingNetwork)
    for G in (Gg, Gm):
        ws = G.latent(G.sample_codes(2, torch.Generator().manual_seed(0)), truncation_psi=1.0, truncation_cutoff=None)
        assert ws.shape == (2, G.num_ws, G.w_dim)


def test_noise_modes():
    G = tiny_generator()
    codes = G.sample_codes(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        for layer in G.modules():
            if hasattr(layer, "noise_strength"):
                layer.noise_strength.fill_(0.5)
        const1, const2 = G(codes, noise_mode="const"), G(codes, noise_mode="const")
        r1 = G(codes, noise_mode="random", generator=torch.Generator().manual_seed(5))
        r2 = G(codes, noise_mode="random", generator=torch.Generator().manual_seed(5))
        r3 = G(codes, noise_mode="random", generator=torch.Generator().manual_seed(6))
        none = G(codes, noise_mode="none")
    assert torch.equal(const1, const2) and torch.equal(r1, r2)
    assert not torch.allclose(r1, r3) and not torch.allclose(const1, none)
    with pytest.raises(ValueError, match="noise_mode"):
        G(codes, noise_mode="loud")


def test_modulated_conv_matches_per_sample_kernels():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 8, 8)
    weight = torch.randn(7, 5, 3, 3)
    styles = torch.randn(3, 5)
    out = modulated_conv2d(x, weight, styles, demodulate=True)
    for b in range(3):
        w = weight * styles[b].reshape(1, 5, 1, 1)
        w = w / (w.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
        ref = F.conv2d(x[b : b + 1], w, padding=1)
        assert torch.allclose(out[b : b + 1], ref, atol=1e-4)


def test_demodulation_normalises_output_scale():
    torch.manual_seed(0)
    x = torch.randn(16, 64, 16, 16)
    out = modulated_conv2d(x, torch.randn(64, 64, 3, 3), torch.randn(16, 64) * 10)
    assert 0.8 < out.std().item() < 1.2


def test_resampling_filters():
    x = torch.randn(2, 3, 8, 8)
    assert upsample2x(x).shape == (2, 3, 16, 16)
    assert downsample2x(x).shape == (2, 3, 4, 4)
    const = torch.full((1, 2, 8, 8), 3.0)
    assert torch.allclose(downsample2x(const), torch.full((1, 2, 4, 4), 3.0))  # filter sums to one
    assert torch.allclose(upsample2x(const), torch.full((1, 2, 16, 16), 3.0))
    # [1, 3, 3, 1] up-sampling: interior output pixels are 3/4 and 1/4 of their neighbours
    row = torch.tensor([[[[0.0, 4.0, 8.0, 12.0]]]])
    up = upsample2x(row.expand(1, 1, 4, 4).contiguous())[0, 0, 0]
    assert torch.allclose(up[2:6], torch.tensor([3.0, 5.0, 7.0, 9.0]))


def test_mapping_network_truncation_and_w_avg():
    torch.manual_seed(0)
    mapping = MappingNetwork(z_dim=8, w_dim=8, num_ws=3, num_layers=2)
    z = mapping.sample(64, torch.Generator().manual_seed(0))
    assert torch.equal(mapping.w_avg, torch.zeros(8))
    mapping(z, update_emas=True)
    assert not torch.equal(mapping.w_avg, torch.zeros(8))
    ws = mapping(z)
    assert torch.allclose(mapping(z, truncation_psi=0.0), mapping.w_avg.expand(64, 3, 8))
    trunc = mapping(z, truncation_psi=0.7, truncation_cutoff=1)
    assert torch.allclose(trunc[:, 0], mapping.w_avg.lerp(ws[:, 0], 0.7), atol=1e-6)
    assert torch.equal(trunc[:, 1:], ws[:, 1:])
    # z is normalised: scaling it does not change w
    assert torch.allclose(mapping(z * 5), ws, atol=1e-5)


def test_mapping_lr_multiplier():
    mapping = MappingNetwork(z_dim=4, w_dim=4, num_ws=1, num_layers=8, lr_multiplier=0.01)
    assert len(mapping.layers) == 8
    layer = mapping.layers[0]
    assert layer.weight_gain == pytest.approx(0.01 / 2)
    assert layer.weight.std().item() > 10  # stored as N(0,1)/0.01


@pytest.mark.parametrize("resolution", [16, 32])
def test_discriminator(resolution):
    torch.manual_seed(0)
    D = Discriminator(DiscriminatorConfig(resolution=resolution, channel_base=256, channel_max=32))
    logits = D(torch.randn(8, 3, resolution, resolution))
    assert logits.shape == (8, 1) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match="expects images"):
        D(torch.randn(2, 3, resolution * 2, resolution * 2))


def test_minibatch_stddev():
    x = torch.randn(8, 4, 4, 4)
    y = minibatch_stddev(x, group_size=4, num_channels=1)
    assert y.shape == (8, 5, 4, 4)
    group = x.reshape(4, 2, 4, 4, 4)
    expected = group.std(dim=0, unbiased=False).mean(dim=(1, 2, 3))  # one value per group member slot
    assert torch.allclose(y[0, 4, 0, 0], expected[0], atol=1e-4)
    assert torch.allclose(y[1, 4, 0, 0], expected[1], atol=1e-4)
    assert minibatch_stddev(torch.randn(6, 4, 4, 4), 4, 1).shape == (6, 5, 4, 4)  # group falls back to gcd


def test_minibatch_stddev_over_the_whole_batch():
    # --mbstd-group 32 at batch 32 (and any group larger than the batch): one group, one value for every sample
    x = torch.randn(8, 4, 4, 4, dtype=torch.float64)
    expected = x.numpy().std(axis=0).mean()
    for group in (8, 32):
        y = minibatch_stddev(x, group_size=group, num_channels=1)[:, 4]
        torch.testing.assert_close(y, torch.full_like(y, float(expected)), atol=1e-6, rtol=0)


def test_config_validation():
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig(resolution=48)
    with pytest.raises(ValueError, match="latent"):
        GeneratorConfig(latent="gaussian")
    with pytest.raises(ValueError, match="power of two"):
        DiscriminatorConfig(resolution=100)


def test_generator_backward_reaches_genome():
    G = tiny_generator()
    codes = G.sample_codes(4, torch.Generator().manual_seed(0))
    G(codes).square().mean().backward()
    assert G.latent.genes.grad is not None and G.latent.genes.grad.abs().sum() > 0


def test_resolutions_up_to_1024():
    for resolution in (16, 1024):
        G = Generator(
            GeneratorConfig(
                resolution=resolution, num_genes=2, num_variants=4, gene_length=2, channel_base=2048, channel_max=8
            )
        )
        assert G.num_ws == 2 * int(math.log2(resolution)) - 2
        if resolution == 1024:
            assert [b.conv1.weight.shape[0] for b in G.synthesis.blocks][-3:] == [8, 4, 2]  # 2048 / res
            with torch.no_grad():
                image = G(G.sample_codes(1, torch.Generator().manual_seed(0)))
            assert image.shape == (1, 3, 1024, 1024) and torch.isfinite(image).all()
    D = Discriminator(DiscriminatorConfig(resolution=1024, channel_base=2048, channel_max=8))
    with torch.no_grad():
        assert D(torch.zeros(2, 3, 1024, 1024)).shape == (2, 1)


def test_configs_saved_before_version_2_load_as_version_1():
    from genomekit.networks.layers import LATEST_NETWORK_VERSION

    assert GeneratorConfig().network_version == LATEST_NETWORK_VERSION == 2
    assert GeneratorConfig.from_dict({"latent": "genome", "resolution": 16}).network_version == 1
    assert GeneratorConfig.from_dict({"resolution": 16, "network_version": 2}).network_version == 2
    assert DiscriminatorConfig.from_json('{"resolution": 16}').network_version == 1
    with pytest.raises(ValueError, match="network version"):
        GeneratorConfig(network_version=3)


def test_float16_blocks_follow_float32(monkeypatch):
    """The float16 path (CUDA only in use) run on the CPU: pre-normalised modulation and clamping keep it
    within half-precision error of float32."""
    import genomekit.networks.discriminator as discriminator_module
    import genomekit.networks.synthesis as synthesis_module

    torch.manual_seed(0)
    config = GeneratorConfig(resolution=32, channel_base=512, channel_max=32, num_fp16_res=2, conv_clamp=256)
    G = Generator(config).eval()
    D = Discriminator(DiscriminatorConfig(resolution=32, channel_base=512, channel_max=32, num_fp16_res=2))
    codes = G.sample_codes(4, torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = G(codes)
        ref_logits = D(ref)
        fp16 = lambda use_fp16, device, force_fp32: torch.float16 if use_fp16 and not force_fp32 else torch.float32  # noqa: E731
        monkeypatch.setattr(synthesis_module, "block_dtype", fp16)
        monkeypatch.setattr(discriminator_module, "block_dtype", fp16)
        half = G(codes)
        half_logits = D(ref)
        forced = G(codes, force_fp32=True)
    assert half.dtype == torch.float32 and half_logits.dtype == torch.float32
    assert not torch.equal(half, ref)  # the blocks really ran in float16
    assert (half - ref).abs().max() < 0.05 * ref.abs().max()
    assert (half_logits - ref_logits).abs().max() < 0.05
    torch.testing.assert_close(forced, ref)
