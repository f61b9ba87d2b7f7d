import pytest
import torch

from genomekit.errors import UserError
from genomekit.training import (
    CheckpointError,
    export_inference_checkpoint,
    load_discriminator,
    load_generator,
    model_identity,
    save_inference_checkpoint,
    train,
)
from genomekit.training.checkpoint import checkpoint_metadata, load_training_state
from genomekit.training.loop import Distributed, build_state
from tests.training.test_train import tiny_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.conftest import make_image_folder

    root = tmp_path_factory.mktemp("ckpt")
    data = make_image_folder(root / "data")
    return train(tiny_config(data, total_kimg=0.024), root / "run", log_interval_s=0)


def test_export_half_precision_loads_and_matches(trained, tmp_path):
    small = tmp_path / "g.safetensors"
    export_inference_checkpoint(trained, small, half=True)
    assert small.stat().st_size < trained.stat().st_size / 3
    G32, G16 = load_generator(trained), load_generator(small)
    codes = G32.sample_codes(4, torch.Generator().manual_seed(0))
    assert torch.allclose(G32(codes), G16(codes), atol=0.05)
    assert load_discriminator(small)(G16(codes)).shape == (4, 1)
    assert checkpoint_metadata(small)["kind"] == "inference"
    state = build_state(tiny_config("unused"), torch.device("cpu"), Distributed())
    with pytest.raises(CheckpointError, match="inference checkpoint"):
        load_training_state(small, state)


def test_model_identity_is_stable_and_specific(trained, tmp_path):
    assert model_identity(trained) == model_identity(trained)
    small = tmp_path / "g.safetensors"
    export_inference_checkpoint(trained, small, half=False)
    assert model_identity(small) == model_identity(trained)  # same G_ema weights
    export_inference_checkpoint(trained, tmp_path / "h.safetensors", half=True)
    assert model_identity(tmp_path / "h.safetensors") != model_identity(trained)


@pytest.mark.parametrize("content", [b"", b"garbage" * 10])
def test_corrupt_or_foreign_files_are_refused(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_generator(path)


def test_truncated_checkpoint_is_refused(trained, tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(trained.read_bytes()[: trained.stat().st_size // 2])
    with pytest.raises(CheckpointError):
        load_generator(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_generator(tmp_path / "none.safetensors")


def test_export_command(trained, tmp_path):
    from typer.testing import CliRunner

    from genomekit.cli import app

    out = tmp_path / "export" / "g16.safetensors"
    result = CliRunner().invoke(app, ["export", str(trained), str(out)])
    assert result.exit_code == 0, result.output
    assert "kimg" in result.output and checkpoint_metadata(out)["kind"] == "inference"
    assert next(iter(load_discriminator(out).parameters())).dtype == torch.float32  # loaded as float32
    missing = CliRunner().invoke(app, ["export", str(tmp_path / "nope.safetensors"), str(tmp_path / "x.safetensors")])
    assert missing.exit_code == 2 and "not found" in missing.output and not (tmp_path / "x.safetensors").exists()


def test_export_refuses_to_overwrite_its_source(trained, tmp_path):
    before = trained.read_bytes()
    link = tmp_path / "link.safetensors"
    link.symlink_to(trained)
    for src, dst in [(trained, trained), (trained, trained.parent / "." / trained.name), (trained, link)]:
        with pytest.raises(UserError, match="is also the input checkpoint"):
            export_inference_checkpoint(src, dst)
    assert trained.read_bytes() == before


def test_export_refuses_a_directory_and_a_training_checkpoint(trained, tmp_path):
    with pytest.raises(UserError, match="is a directory"):
        export_inference_checkpoint(trained, tmp_path)
    other_run = tmp_path / "other.safetensors"
    other_run.write_bytes(trained.read_bytes())  # another run's training checkpoint
    with pytest.raises(UserError, match="training checkpoint .* would destroy the run"):
        export_inference_checkpoint(trained, other_run)
    G = load_generator(trained)
    with pytest.raises(UserError, match="would destroy the run"):
        save_inference_checkpoint(other_run, G, None)
    assert other_run.read_bytes() == trained.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.safetensors"]  # no temporary left behind


def test_export_overwrites_an_inference_checkpoint_or_another_file(trained, tmp_path):
    out = tmp_path / "g.safetensors"
    export_inference_checkpoint(trained, out, half=True)
    export_inference_checkpoint(trained, out, half=False)
    assert next(iter(load_generator(out).parameters())).dtype == torch.float32
    assert checkpoint_metadata(out)["kind"] == "inference"
    notes = tmp_path / "notes.txt"
    notes.write_text("not a checkpoint")
    export_inference_checkpoint(trained, notes)
    assert checkpoint_metadata(notes)["kind"] == "inference"


def test_a_loaded_checkpoint_reads_the_file_once_and_agrees_with_the_shorthands(trained, monkeypatch):
    import safetensors

    from genomekit.training import Checkpoint, load_checkpoint

    opened = []
    real_open = safetensors.safe_open
    monkeypatch.setattr(safetensors, "safe_open", lambda path, **kw: opened.append(path) or real_open(path, **kw))
    model = load_checkpoint(trained)
    G, D = model.generator(), model.discriminator()
    identity, metadata = model.identity, model.metadata
    assert isinstance(model, Checkpoint) and opened == [str(trained)]
    assert model.generator() is G and model.discriminator() is D  # built once, then the same modules
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    monkeypatch.setattr(safetensors, "safe_open", real_open)
    assert identity == model_identity(trained) and metadata == checkpoint_metadata(trained)
    assert model.kind == "training" and model.has_discriminator and model.genome_shape == G.genome_shape
    assert model.name == str(trained) and model.path == trained
    codes = G.sample_codes(3, torch.Generator().manual_seed(1))
    assert torch.equal(G(codes), load_generator(trained)(codes))
    assert torch.equal(D(G(codes)), load_discriminator(trained)(G(codes)))


def test_a_shipped_model_keeps_its_name(tmp_path):
    from genomekit.training import load_checkpoint
    from genomekit.training.checkpoint import resolve_model, save_inference_checkpoint

    model = load_checkpoint("default")
    assert model.name == str(model) == "default" and model.path == resolve_model("default")
    generator_only = tmp_path / "g.safetensors"
    save_inference_checkpoint(generator_only, model.generator(), None)
    loaded = load_checkpoint(generator_only)
    assert not loaded.has_discriminator
    assert torch.equal(loaded.generator().latent.genes, model.generator().latent.genes)
    with pytest.raises(CheckpointError, match="has no discriminator"):
        loaded.discriminator()


def test_resuming_a_checkpoint_written_on_another_device_type_restarts_the_rng_stream(tiny_dataset, tmp_path, caplog):
    """CPU and CUDA generator states differ: the stream restarts from (seed, step), with a warning."""
    import logging

    from safetensors import safe_open
    from safetensors.torch import save_file

    from genomekit.training import train
    from tests.training.test_train import tiny_config

    config = tiny_config(tiny_dataset, total_kimg=0.032, snapshot_kimg=0.016)
    out = tmp_path / "run"
    train(config, out, log_interval_s=0, max_steps=2)
    ckpt = out / "checkpoint.safetensors"
    with safe_open(str(ckpt), framework="pt") as f:
        metadata = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    assert metadata["rng_device"] == "cpu"
    metadata["rng_device"] = "cuda:0"  # as if written on a GPU
    save_file(tensors, str(ckpt), metadata=metadata)
    with caplog.at_level(logging.WARNING):
        train(config, out, resume=True, log_interval_s=0)
    assert "written on cuda and resumes on cpu" in caplog.text
    assert checkpoint_metadata(ckpt)["progress"]["nimg"] == 32
