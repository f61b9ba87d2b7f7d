"""The models shipped in genomekit/assets/models and the names that stand for them."""

from pathlib import Path

import pytest
import torch

from classifiers import load_classifier_set
from genomekit.training import checkpoint
from genomekit.training.checkpoint import CheckpointError, load_discriminator, load_generator, model_identity

CARD = Path(checkpoint.__file__).resolve().parents[1] / "assets" / "models" / "MODEL_CARD.md"


@pytest.mark.parametrize(("name", "latent"), [("default", "genome"), ("default-mapping", "mapping")])
def test_shipped_models_load_generate_and_are_described(name, latent):
    G = load_generator(name)
    assert G.latent_kind == latent and G.config.resolution == 32
    codes = G.sample_codes(4, torch.Generator().manual_seed(0))
    images = G(codes)
    assert images.shape == (4, 3, 32, 32) and torch.isfinite(images).all()
    assert torch.equal(images, G(G.sample_codes(4, torch.Generator().manual_seed(0))))
    assert load_discriminator(name)(images).shape == (4, 1)
    assert checkpoint.checkpoint_metadata(name)["kind"] == "inference"
    # The model card names each shipped file by its identity, so a silently replaced file fails here.
    assert model_identity(name) in CARD.read_text()


def test_shipped_genome_shape():
    assert tuple(load_generator("default").genome_shape) == (32, 64, 8)


def test_a_missing_shipped_model_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(checkpoint.SHIPPED_MODELS, "default", "no-such-file.safetensors")
    with pytest.raises(CheckpointError, match="shipped model 'default' is missing"):
        load_generator("default")


def test_other_names_are_paths(tmp_path):
    assert checkpoint.resolve_model(tmp_path / "x.safetensors") == tmp_path / "x.safetensors"
    with pytest.raises(CheckpointError, match="not found"):
        load_generator(tmp_path / "default-ish")


@pytest.mark.parametrize(("resolution", "expected"), [(32, 32), (64, 64), (None, 64), (128, 64)])
def test_default_classifiers_follow_the_image_resolution(resolution, expected):
    assert load_classifier_set("default", resolution=resolution).resolution == expected


def test_a_named_shipped_set_is_not_rerouted():
    assert load_classifier_set("default-32", resolution=64).resolution == 32


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIRST_PAIR = {"default": "synth_faces_genome.safetensors", "default-mapping": "synth_faces_mapping.safetensors"}


@pytest.mark.parametrize("name", ["default", "default-mapping"])
def test_the_first_shipped_pair_gives_the_images_it_gave_before_network_version_2(name):
    """The first shipped pair (R1 0.0064; also kept in tests/fixtures/shipped_v1, so this holds once a
    retrained pair replaces it) was trained before NVlabs' resampling became network version 2.
    Recorded with genomekit 006e79f: the files load as version 1 and reproduce those images and logits."""
    from safetensors.torch import load_file

    golden = load_file(str(FIXTURES / "shipped_models_v1.safetensors"))
    path = FIXTURES / "shipped_v1" / FIRST_PAIR[name]
    G = load_generator(path)
    assert G.config.network_version == 1
    images = G(G.sample_codes(2, torch.Generator().manual_seed(0)))
    torch.testing.assert_close(images, golden[f"{name}.images"], atol=1e-5, rtol=0)
    torch.testing.assert_close(load_discriminator(path)(images), golden[f"{name}.logits"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["default", "default-mapping"])
def test_the_shipped_pair_is_network_version_2(name):
    assert load_generator(name).config.network_version == 2
