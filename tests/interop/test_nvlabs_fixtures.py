"""Sanity of the NVlabs reference fixtures in tests/fixtures/nvlabs (torch and safetensors only).

The fixtures were made by scripts/make_nvlabs_fixtures.py with NVlabs' own code; these tests check
that each file is complete and self-consistent, and that `fill_state` regenerates the weights NVlabs
used (seen through the outputs that depend on a single weight tensor: the Genome's `ws` and the
truncation's `w_avg`). Whether genomekit's networks reproduce the images is tested elsewhere.
"""

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from tests.interop.nvlabs_weights import fill_state

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "nvlabs"
FIXTURE_PATHS = sorted(FIXTURE_DIR.glob("*.safetensors"))
MAPPING_FIXTURE_PATHS = [p for p in FIXTURE_PATHS if "_mapping_" in p.stem]  # generators with G.mapping (truncation)
EXPECTED_FIXTURES = {
    "g_mapping_32",
    "g_mapping_32_fp16",
    "g_mapping_32_clamp",
    "g_genome_32",
    "g_mapping_64_f",
    "g_mapping_256_f",
    "d_resnet_32",
    "d_resnet_32_clamp",
    "d_resnet_64_f",
    "d_resnet_256_f",
    "ada_g_mapping_32_fp16",
    "ada_d_resnet_32",
}
TRUNCATION_PSI = 0.7  # as in scripts/make_nvlabs_fixtures.py
INPUT_NAMES = {"z", "genes_idx", "img", "img_uint8"}


def load_fixture(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """A fixture's tensors and its metadata (the JSON under the safetensors metadata key 'fixture')."""
    with safe_open(str(path), "pt") as f:
        metadata = json.loads(f.metadata()["fixture"])
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    return tensors, metadata


@pytest.fixture(scope="module", params=FIXTURE_PATHS, ids=[p.stem for p in FIXTURE_PATHS])
def nvlabs_fixture(request) -> tuple[str, dict[str, torch.Tensor], dict]:
    tensors, metadata = load_fixture(request.param)
    return request.param.stem, tensors, metadata


def test_all_fixtures_present_and_small():
    assert {p.stem for p in FIXTURE_PATHS} == EXPECTED_FIXTURES
    sizes = {p.name: p.stat().st_size for p in FIXTURE_PATHS}
    assert max(sizes.values()) < 500_000, sizes
    assert sum(sizes.values()) < 3_000_000, sizes


def test_fixtures_hold_no_nvlabs_code():
    for path in FIXTURE_PATHS:
        data = path.read_bytes()
        assert b"NVIDIA CORPORATION" not in data and b"module_src" not in data, path.name


def test_metadata_is_complete(nvlabs_fixture):
    name, tensors, metadata = nvlabs_fixture
    assert re.fullmatch(r"[0-9a-f]{40}", metadata["nvlabs_commit"])
    assert metadata["nvlabs_module"] in ("training.networks_stylegan2", "training.networks")
    assert metadata["kind"] in ("generator", "discriminator")
    assert metadata["class_name"] == {"generator": "Generator", "discriminator": "Discriminator"}[metadata["kind"]]
    assert metadata["init_kwargs"]["img_resolution"] in (32, 64, 256)
    assert isinstance(metadata["weight_seed"], int)
    assert metadata["torch_version"]
    # Every stored tensor is described, with its true shape and dtype.
    assert set(metadata["tensors"]) == set(tensors)
    for tensor_name, t in tensors.items():
        described = metadata["tensors"][tensor_name]
        assert described["shape"] == list(t.shape), tensor_name
        assert described["dtype"] == str(t.dtype).removeprefix("torch."), tensor_name
        assert described["description"], tensor_name
        if tensor_name not in ("genes_idx", "img_uint8"):
            assert t.dtype == torch.float32, tensor_name


def test_fill_state_matches_recorded_keys(nvlabs_fixture):
    _, _, metadata = nvlabs_fixture
    keys = [(key, shape) for key, shape in metadata["state_keys"]]
    state = fill_state(keys, metadata["weight_seed"])
    assert list(state) == [key for key, _ in keys]
    assert all(list(state[key].shape) == shape for key, shape in keys)
    assert not any(key.endswith("resample_filter") for key in state)
    assert all(torch.isfinite(t).all() and t.dtype == torch.float32 for t in state.values())


def test_outputs_have_expected_shapes(nvlabs_fixture):
    name, tensors, metadata = nvlabs_fixture
    kwargs = metadata["init_kwargs"]
    batch_size = metadata["batch_size"]
    resolution, channels = kwargs["img_resolution"], kwargs["img_channels"]
    for tensor_name, t in tensors.items():
        if tensor_name not in INPUT_NAMES:
            assert torch.isfinite(t).all(), tensor_name
    if metadata["kind"] == "discriminator":
        image = tensors["img"] if "img" in tensors else tensors["img_uint8"]
        assert image.shape == (batch_size, channels, resolution, resolution)
        if "img" in tensors:
            assert image.min() >= -1 and image.max() <= 1
        assert tensors["logits"].shape == (batch_size, 1)
        return
    w_dim = kwargs["w_dim"]
    ws = tensors["ws"]
    num_ws = ws.shape[1]
    assert ws.shape == (batch_size, num_ws, w_dim)
    # NVlabs: num_ws = 2 * log2(R) - 2 for the skip architecture.
    assert num_ws == 2 * (resolution.bit_length() - 1) - 2
    assert torch.equal(ws, ws[:, :1].expand_as(ws)), "one w broadcast to every layer"
    stride = 4 if any(n.endswith("_stride4") for n in tensors) else 1
    suffix = "_stride4" if stride > 1 else ""
    image_names = ["img_const", "img_none"] + ([] if "genes_idx" in tensors else ["img_trunc"])
    for image_name in image_names:
        assert tensors[image_name + suffix].shape == (batch_size, channels, resolution // stride, resolution // stride)
    # Noise is on and matters: 'const' and 'none' noise give different images.
    assert not torch.allclose(tensors["img_const" + suffix], tensors["img_none" + suffix], atol=1e-3)
    if "z" in tensors:
        assert tensors["z"].shape == (batch_size, kwargs["z_dim"])
        # The latent matters: images of different z differ by far more than the 1e-4 tolerance.
        assert (tensors["img_const" + suffix][0] - tensors["img_const" + suffix][1]).abs().max() > 1e-2


@pytest.mark.parametrize("path", MAPPING_FIXTURE_PATHS, ids=[p.stem for p in MAPPING_FIXTURE_PATHS])
def test_truncation_uses_seeded_w_avg(path):
    """ws_trunc = w_avg.lerp(ws, psi) with w_avg from fill_state: the seed regenerates NVlabs' buffer."""
    tensors, metadata = load_fixture(path)
    w_avg = fill_state(metadata["state_keys"], metadata["weight_seed"])["mapping.w_avg"]
    torch.testing.assert_close(tensors["ws_trunc"], w_avg.lerp(tensors["ws"], TRUNCATION_PSI), atol=1e-6, rtol=1e-6)


def test_genome_ws_is_lookup_of_seeded_genes():
    """The Genome fixture's ws are genes[i, genes_idx[:, i]], gene-major, with genes from fill_state."""
    tensors, metadata = load_fixture(FIXTURE_DIR / "g_genome_32.safetensors")
    genome = metadata["mapping_replaced_by"]["init_kwargs"]
    genes = fill_state(metadata["state_keys"], metadata["weight_seed"])["mapping.genes"]  # (G, V, D)
    num_genes, num_variants, gene_length = genes.shape
    assert (num_genes * gene_length, num_variants, gene_length) == (
        genome["dim"],
        genome["num_variants"],
        genome["gene_length"],
    )
    genes_idx = tensors["genes_idx"]  # (B, G)
    assert genes_idx.dtype == torch.int64 and genes_idx.min() >= 0 and genes_idx.max() < num_variants
    expected = genes[torch.arange(num_genes), genes_idx].reshape(len(genes_idx), -1)  # (B, G*D)
    assert torch.equal(tensors["ws"], expected[:, None].expand(-1, genome["num_ws"], -1))


def test_stylegan2_ada_matches_stylegan3_on_same_weights():
    """Same seeds, same class layout: ada's outputs are the first rows of stylegan3's (B=2 of B=4)."""
    ada, ada_metadata = load_fixture(FIXTURE_DIR / "ada_g_mapping_32_fp16.safetensors")
    sg3, sg3_metadata = load_fixture(FIXTURE_DIR / "g_mapping_32_fp16.safetensors")
    assert ada_metadata["state_keys"] == sg3_metadata["state_keys"]
    assert ada_metadata["weight_seed"] == sg3_metadata["weight_seed"]
    for name, t in ada.items():
        torch.testing.assert_close(t, sg3[name][: len(t)], atol=1e-4, rtol=0)


def test_clamp_fixtures_really_clamp():
    for name in ("g_mapping_32_clamp", "d_resnet_32_clamp"):
        _, metadata = load_fixture(FIXTURE_DIR / f"{name}.safetensors")
        assert metadata["init_kwargs"]["conv_clamp"] == 0.5
        assert metadata["checks"]["clamped_fraction"] > 0.01, name


def test_fill_state_rules():
    keys = [
        ("a.affine.bias", [1000]),
        ("a.bias", [1000]),
        ("a.noise_strength", []),
        ("mapping.w_avg", [1000]),
        ("a.weight", [10, 100]),
        ("mapping.fc0.weight", [10, 100]),
        ("mapping.fc0.bias", [1000]),
        ("mapping.genes", [2, 3, 4]),
    ]
    state = fill_state(keys, seed=7)
    generator = torch.Generator().manual_seed(7)
    raw = {key: torch.randn(shape, generator=generator) for key, shape in keys}
    torch.testing.assert_close(state["a.affine.bias"], 1 + 0.2 * raw["a.affine.bias"])
    torch.testing.assert_close(state["a.bias"], 0.2 * raw["a.bias"])
    torch.testing.assert_close(state["a.noise_strength"], 0.1 * raw["a.noise_strength"])
    torch.testing.assert_close(state["mapping.w_avg"], 0.5 * raw["mapping.w_avg"])
    torch.testing.assert_close(state["a.weight"], raw["a.weight"])
    torch.testing.assert_close(state["mapping.fc0.weight"], raw["mapping.fc0.weight"] / 0.01)
    torch.testing.assert_close(state["mapping.fc0.bias"], 0.2 * raw["mapping.fc0.bias"] / 0.01)
    torch.testing.assert_close(state["mapping.genes"], raw["mapping.genes"])
    assert not torch.equal(fill_state(keys, seed=8)["a.weight"], state["a.weight"])
    with pytest.raises(ValueError, match="resample_filter"):
        fill_state([("b8.resample_filter", [4, 4])], seed=0)
