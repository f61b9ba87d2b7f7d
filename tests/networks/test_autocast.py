"""The synthesis network under autocast: styles and demodulation coefficients stay float32 (issue 15),
while the convolutions run in bfloat16, and the image stays close to float32's.

CPU autocast does bfloat16, so this runs without a GPU; float16 follows the same code path on CUDA.
"""

import pytest
import torch

from genomekit.networks import Generator, GeneratorConfig, layers
from genomekit.networks.synthesis import SynthesisLayer, ToRGB


def tiny_generator(latent: str, network_version: int = 2) -> Generator:
    torch.manual_seed(0)  # test-only: random weights
    config = GeneratorConfig(
        latent=latent,
        num_genes=4,
        num_variants=8,
        gene_length=4,
        resolution=16,
        channel_base=256,
        channel_max=32,
        network_version=network_version,
    )
    return Generator(config).eval()


def record_dtypes(G: Generator, monkeypatch) -> dict[str, list[torch.dtype]]:
    """Output dtypes of every style affine and synthesis layer (forward hooks) and demodulation coefficients."""
    seen: dict[str, list[torch.dtype]] = {"styles": [], "dcoefs": [], "features": []}
    for module in G.synthesis.modules():
        if isinstance(module, SynthesisLayer | ToRGB):
            module.affine.register_forward_hook(lambda mod, args, out: seen["styles"].append(out.dtype))
        if isinstance(module, SynthesisLayer):
            module.register_forward_hook(lambda mod, args, out: seen["features"].append(out.dtype))
    original = layers.demodulation_coefficients

    def demodulation_coefficients(weight, styles):
        dcoefs = original(weight, styles)
        seen["dcoefs"].append(dcoefs.dtype)
        return dcoefs

    monkeypatch.setattr(layers, "demodulation_coefficients", demodulation_coefficients)
    return seen


@pytest.mark.parametrize(("latent", "network_version"), [("genome", 2), ("mapping", 2), ("genome", 1)])
def test_styles_and_demodulation_stay_float32_under_bf16_autocast(latent, network_version, monkeypatch):
    G = tiny_generator(latent, network_version)
    codes = G.sample_codes(4, torch.Generator().manual_seed(1))
    with torch.no_grad():
        exact = G(codes, noise_mode="const")
        seen = record_dtypes(G, monkeypatch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = G(codes, noise_mode="const")
    layers_with_styles = sum(isinstance(m, SynthesisLayer | ToRGB) for m in G.synthesis.modules())
    demodulated = sum(isinstance(m, SynthesisLayer) for m in G.synthesis.modules())
    assert seen["styles"] == [torch.float32] * layers_with_styles  # 7 affines at 16 px
    assert seen["dcoefs"] == [torch.float32] * demodulated  # 5 demodulated convolutions
    assert seen["features"] == [torch.bfloat16] * demodulated  # autocast really ran the convolutions
    assert bf16.dtype == torch.float32  # the image is accumulated in float32 (toRGB output .float())
    # Tolerance: every pixel within 4% of the image's largest |value| (these untrained networks make
    # images up to +-8). Measured: 1.5-1.8% (0.07-0.15 absolute), mean 0.6-1.6% of the image's std;
    # without the float32 styles and coefficients the largest error was 2.0-2.9%.
    error = (bf16 - exact).abs()
    assert 0 < float(error.max()) < 0.04 * float(exact.abs().max()), float(error.max())
    assert float(error.mean()) < 0.03 * float(exact.std()), float(error.mean())


def test_float32_is_unchanged_by_the_autocast_guards():
    """Without autocast the guards are no-ops: the same numbers as computing the styles and
    coefficients directly (what the NVlabs and shipped-model golden tests pin too)."""
    torch.manual_seed(0)
    weight, styles = torch.randn(7, 5, 3, 3), torch.randn(3, 5)
    expected = (styles.square() @ weight.square().sum(dim=(2, 3)).T + 1e-8).rsqrt()
    assert torch.equal(layers.demodulation_coefficients(weight, styles), expected)
    G = tiny_generator("genome")
    layer = G.synthesis.blocks[1].conv0
    w = torch.randn(3, G.synthesis.w_dim)
    assert torch.equal(layers.style_affine(layer.affine, w), layer.affine(w))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer.affine(w).dtype == torch.bfloat16  # what the guard prevents
        assert layers.style_affine(layer.affine, w).dtype == torch.float32
        assert layers.demodulation_coefficients(weight, styles).dtype == torch.float32
