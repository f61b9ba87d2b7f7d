"""import-nvlabs on pickles in NVlabs' persistence format: images reproduced, stored code never run."""

import os
import pickle

import pytest
import torch
from typer.testing import CliRunner

from genomekit.cli import app
from genomekit.errors import UserError
from genomekit.interop.nvlabs import read_nvlabs_pickle
from genomekit.interop.torch_pickle import RefusedGlobal, load_nvlabs_pickle
from genomekit.training.checkpoint import checkpoint_metadata, load_discriminator, load_generator
from tests.interop.fixtures import load_fixture
from tests.interop.nvlabs_pickles import TRAP_SOURCE, snapshot_pickle

runner = CliRunner()


@pytest.fixture
def trap(tmp_path):
    path = tmp_path / "executed.txt"
    yield TRAP_SOURCE.format(path=str(path))
    assert not path.exists(), "code stored in the pickle was executed"


def _snapshot(tmp_path, trap, generator="g_mapping_32_fp16", plain_genome=False):
    g, d = load_fixture(generator), load_fixture("d_resnet_32")
    data = snapshot_pickle(g.meta["init_kwargs"], g.state, d.meta["init_kwargs"], d.state, trap, plain_genome)
    path = tmp_path / "network-snapshot-000100.pkl"
    path.write_bytes(data)
    return path, g, d


@pytest.mark.parametrize(
    "generator, plain", [("g_mapping_32_fp16", False), ("g_genome_32", False), ("g_genome_32", True)]
)
def test_import_reproduces_nvlabs_images_and_logits(tmp_path, trap, generator, plain):
    path, g, d = _snapshot(tmp_path, trap, generator, plain)
    out = tmp_path / "imported.safetensors"
    result = runner.invoke(app, ["import-nvlabs", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "G_ema" in result.output
    G, D = load_generator(out), load_discriminator(out)
    with torch.no_grad():
        codes = g.tensors["genes_idx"] if "genes_idx" in g.tensors else g.tensors["z"]
        assert (G(codes, noise_mode="const") - g.tensors["img_const"]).abs().max() <= 1e-4
        assert (D(d.tensors["img"]) - d.tensors["logits"]).abs().max() <= 1e-4
    source = checkpoint_metadata(out)["source"]
    assert source["format"] == "nvlabs-pytorch-pickle" and source["generator"] == "G_ema"
    assert G.latent_kind == ("genome" if "genome" in generator else "mapping")


def test_bare_generator_imports_without_discriminator(tmp_path, trap):
    g = load_fixture("g_mapping_32")
    from tests.interop.nvlabs_pickles import nvlabs_modules, tree

    with nvlabs_modules():
        data = pickle.dumps(tree("Generator", g.state, g.meta["init_kwargs"], trap))
    path = tmp_path / "G.pkl"
    path.write_bytes(data)
    model = read_nvlabs_pickle(path)
    assert model.D is None
    with torch.no_grad():
        assert (model.G(g.tensors["z"]) - g.tensors["img_const"]).abs().max() <= 1e-4
    out = tmp_path / "g.safetensors"
    assert runner.invoke(app, ["import-nvlabs", str(path), "--out", str(out)]).exit_code == 0
    with pytest.raises(UserError, match="no discriminator"):
        load_discriminator(out)


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_code_in_a_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "ran"
    data = pickle.dumps({"G_ema": _Evil(marker)})
    with pytest.raises(RefusedGlobal, match="refusing to load"):
        load_nvlabs_pickle(data, "evil.pkl")
    assert not marker.exists()
    path = tmp_path / "evil.pkl"
    path.write_bytes(data)
    out = tmp_path / "out.safetensors"
    result = runner.invoke(app, ["import-nvlabs", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("error: refusing to load") and len(result.output.strip().splitlines()) == 1
    assert not marker.exists() and not out.exists()
    assert not list(tmp_path.glob(".out.safetensors*"))  # no temporary file left behind


@pytest.mark.parametrize("payload", [(eval, ("1+1",)), (getattr, (object, "__class__")), (__import__, ("os",))])
def test_builtins_are_refused(payload):
    class Reducer:
        def __reduce__(self):
            return payload

    with pytest.raises(RefusedGlobal):
        load_nvlabs_pickle(pickle.dumps(Reducer()))


def test_bad_inputs_give_one_line(tmp_path, trap):
    path, _, _ = _snapshot(tmp_path, trap)
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(path.read_bytes()[:5000])
    existing = tmp_path / "exists.safetensors"
    existing.write_text("keep")
    cases = [
        ([str(tmp_path / "missing.pkl"), str(tmp_path / "a.safetensors")], "pickle not found"),
        ([str(truncated), str(tmp_path / "b.safetensors")], "not a readable NVlabs pickle"),
        ([str(path), str(existing)], "already exists"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["import-nvlabs", *args])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output
    assert existing.read_text() == "keep"
    assert not (tmp_path / "a.safetensors").exists() and not (tmp_path / "b.safetensors").exists()


def test_stylegan3_and_conditional_networks_are_refused(tmp_path, trap):
    g = load_fixture("g_mapping_32")
    state = {**g.state, "synthesis.input.affine.weight": torch.zeros(4, 64)}
    from tests.interop.nvlabs_pickles import nvlabs_modules, tree

    with nvlabs_modules():
        sg3 = pickle.dumps(tree("Generator", state, g.meta["init_kwargs"], trap))
        conditional = pickle.dumps(tree("Generator", g.state, {**g.meta["init_kwargs"], "c_dim": 5}, trap))
    for data, message in [(sg3, "StyleGAN3"), (conditional, "conditional")]:
        path = tmp_path / "net.pkl"
        path.write_bytes(data)
        with pytest.raises(UserError, match=message):
            read_nvlabs_pickle(path)
