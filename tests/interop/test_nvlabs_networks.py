"""genomekit's network version 2 against NVlabs' StyleGAN2: the golden fixtures, reproduced to 1e-4."""

import pytest
import torch

from genomekit.interop.nvlabs import UnsupportedNetwork, discriminator_from_nvlabs, generator_from_nvlabs
from tests.interop.fixtures import fixture_names, load_fixture

TOLERANCE = 1e-4  # max abs difference, images span about +-6 and logits +-1


def _reference(tensors, name):
    """A stored output, or its every-4th-pixel subsample (``name_stride4``, kept for the large fixtures)."""
    if name in tensors:
        return tensors[name], lambda img: img
    return tensors[f"{name}_stride4"], lambda img: img[..., ::4, ::4]


def _images(tensors):
    """D's input: float images, or uint8 bytes converted as NVlabs' training loop converts reals."""
    if "img" in tensors:
        return tensors["img"]
    return tensors["img_uint8"].to(torch.float32) / 127.5 - 1


def _params(kind):
    return [pytest.param(n, marks=pytest.mark.slow) if n.endswith("_f") else n for n in fixture_names(kind)]


@pytest.mark.parametrize("name", _params("generator"))
def test_generator_reproduces_nvlabs(name):
    fixture = load_fixture(name)
    ref = fixture.tensors
    G = generator_from_nvlabs(fixture.meta["init_kwargs"], fixture.state)
    with torch.no_grad():
        if G.latent_kind == "genome":
            ws = G.mapping(ref["genes_idx"])
        else:
            ws = G.mapping(ref["z"])
            torch.testing.assert_close(G.mapping(ref["z"], truncation_psi=0.7), ref["ws_trunc"], atol=1e-5, rtol=0)
            trunc = G(ref["z"], truncation_psi=0.7, noise_mode="const")
            expected, pick = _reference(ref, "img_trunc")
            assert (pick(trunc) - expected).abs().max() <= TOLERANCE
        torch.testing.assert_close(ws, ref["ws"], atol=1e-5, rtol=0)
        img_const = G.synthesis(ws, noise_mode="const")
        img_none = G.synthesis(ws, noise_mode="none")
    expected_const, pick = _reference(ref, "img_const")
    expected_none, _ = _reference(ref, "img_none")
    assert expected_const.abs().max() > 1  # the fixture is not degenerate
    assert (pick(img_const) - expected_const).abs().max() <= TOLERANCE
    assert (pick(img_none) - expected_none).abs().max() <= TOLERANCE
    assert not torch.allclose(img_const, img_none)  # noise inputs matter, so both paths are checked


@pytest.mark.parametrize("name", _params("discriminator"))
def test_discriminator_reproduces_nvlabs(name):
    fixture = load_fixture(name)
    D = discriminator_from_nvlabs(fixture.meta["init_kwargs"], fixture.state, fixture.repository)
    with torch.no_grad():
        logits = D(_images(fixture.tensors))
    assert (logits - fixture.tensors["logits"]).abs().max() <= TOLERANCE


def test_clamp_fixtures_differ_from_unclamped():
    # conv_clamp 0.5 really clamps: the same weights without the clamp give other images.
    fixture = load_fixture("g_mapping_32_clamp")
    kwargs = {**fixture.meta["init_kwargs"], "conv_clamp": None}
    G = generator_from_nvlabs(kwargs, fixture.state)
    with torch.no_grad():
        img = G(fixture.tensors["z"], noise_mode="const")
    assert (img - fixture.tensors["img_const"]).abs().max() > 0.1


def test_version_1_networks_do_not_match():
    # The old resampling is a different network: the fixture tells them apart.
    fixture = load_fixture("d_resnet_32")
    D = discriminator_from_nvlabs(fixture.meta["init_kwargs"], fixture.state)
    from genomekit.networks import Discriminator

    old = Discriminator(D.config.__class__(**{**D.config.__dict__, "network_version": 1}))
    old.load_state_dict(D.state_dict())
    with torch.no_grad():
        assert (old(fixture.tensors["img"]) - fixture.tensors["logits"]).abs().max() > 1e-3


@pytest.mark.parametrize(
    "change, message",
    [
        ({"c_dim": 10}, "conditional"),
        ({"architecture": "resnet"}, "architecture"),
        ({"resample_filter": [1, 2, 1]}, "resample_filter"),
        ({"mapping_kwargs": {"num_layers": 2, "layer_features": 32}}, "layer_features"),
    ],
)
def test_unsupported_generators_are_refused(change, message):
    fixture = load_fixture("g_mapping_32")
    with pytest.raises(UnsupportedNetwork, match=message):
        generator_from_nvlabs({**fixture.meta["init_kwargs"], **change}, fixture.state)


def test_mapping_lr_multiplier_is_rescaled():
    fixture = load_fixture("g_mapping_32")
    state = fixture.state
    # The same effective layers stored for lr_multiplier 0.1 instead of 0.01.
    scaled = {k: (v / 10 if k.startswith("mapping.fc") else v) for k, v in state.items()}
    kwargs = fixture.meta["init_kwargs"]
    lr_kwargs = {**kwargs, "mapping_kwargs": {**kwargs["mapping_kwargs"], "lr_multiplier": 0.1}}
    G = generator_from_nvlabs(lr_kwargs, scaled)
    with torch.no_grad():
        torch.testing.assert_close(G.mapping(fixture.tensors["z"]), fixture.tensors["ws"], atol=1e-5, rtol=0)
