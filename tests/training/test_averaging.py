import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genomekit.cli import app
from genomekit.errors import UserError
from genomekit.networks import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from genomekit.training.averaging import average_snapshots, run_snapshots, select_snapshots
from genomekit.training.checkpoint import load_checkpoint, read_checkpoint, save_inference_checkpoint

G_CONFIG = GeneratorConfig(latent="genome", num_genes=4, num_variants=8, gene_length=4, resolution=16,
                           channel_base=256, channel_max=32)  # fmt: skip
D_CONFIG = DiscriminatorConfig(resolution=16, channel_base=256, channel_max=32)


def _perturbed(module, seed):
    """``module`` with every float tensor (parameters and buffers) replaced by seeded noise."""
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=rng))
    return module


def _kept_run(root, kimgs=(10, 20, 30, 40), g_config=G_CONFIG):
    """A run directory whose snapshots/ holds float16 snapshots as `train --keep-snapshots` writes them."""
    (root / "snapshots").mkdir(parents=True)
    for i, kimg in enumerate(kimgs):
        G = _perturbed(Generator(g_config), seed=i)
        D = _perturbed(Discriminator(D_CONFIG), seed=100 + i)
        save_inference_checkpoint(root / "snapshots" / f"network-{kimg * 1000:09d}.safetensors", G, D, half=True)
    return root


def test_average_is_the_mean_of_the_snapshots_and_keeps_the_last_d(tmp_path):
    run = _kept_run(tmp_path / "run")
    paths = select_snapshots(run, 20, 40)
    assert [p.name for p in paths] == [f"network-{k * 1000:09d}.safetensors" for k in (20, 30, 40)]
    record = average_snapshots(paths, tmp_path / "avg.safetensors", half=False)
    assert record["count"] == 3 and record["kimg"] == [20, 30, 40]
    averaged, metadata = read_checkpoint(tmp_path / "avg.safetensors")
    inputs = [read_checkpoint(p)[0] for p in paths]
    g_names = [k for k in inputs[0] if k.startswith("G_ema.")]
    assert sorted(k for k in averaged if k.startswith("G_ema.")) == sorted(g_names)
    for name in g_names:
        expected = np.mean([t[name].double().numpy() for t in inputs], axis=0)
        np.testing.assert_allclose(averaged[name].double().numpy(), expected, rtol=1e-6, atol=1e-6)
    for name in (k for k in inputs[-1] if k.startswith("D.")):
        assert torch.equal(averaged[name], inputs[-1][name].float())
    assert json.loads(metadata["averaged"])["discriminator"] == str(paths[-1])
    checkpoint = load_checkpoint(tmp_path / "avg.safetensors")  # loads as any inference checkpoint
    G = checkpoint.generator()
    images = G(G.sample_codes(2, generator=torch.Generator().manual_seed(0)))
    assert images.shape == (2, 3, 16, 16) and torch.isfinite(images).all()


def test_one_snapshot_averages_to_itself(tmp_path):
    run = _kept_run(tmp_path / "run")
    (path,) = select_snapshots(run, 30, 30)
    average_snapshots([path], tmp_path / "one.safetensors")
    original, averaged = read_checkpoint(path)[0], read_checkpoint(tmp_path / "one.safetensors")[0]
    assert original.keys() == averaged.keys()
    assert all(torch.equal(original[k], averaged[k]) for k in original)


def test_window_selection_and_refusals(tmp_path):
    run = _kept_run(tmp_path / "run")
    assert [n for n, _ in run_snapshots(run)] == [10000, 20000, 30000, 40000]
    assert len(select_snapshots(run, 25)) == 2
    with pytest.raises(UserError, match="no snapshot of .* lies from 41 kimg on"):
        select_snapshots(run, 41)
    with pytest.raises(UserError, match="lies between 11 and 19 kimg"):
        select_snapshots(run, 11, 19)
    odd = _kept_run(tmp_path / "odd", kimgs=(10,))
    (odd / "snapshots" / "network-000010000.safetensors").rename(odd / "snapshots" / "network-000130016.safetensors")
    assert len(select_snapshots(odd, 130, 130)) == 1  # 130,016 images (batches of 32) is the 130-kimg snapshot
    with pytest.raises(UserError, match="no kept snapshots"):
        select_snapshots(tmp_path, 0)
    other = _kept_run(
        tmp_path / "other",
        kimgs=(50,),
        g_config=GeneratorConfig(
            latent="genome", num_genes=4, num_variants=4, gene_length=4, resolution=16, channel_base=256, channel_max=32
        ),
    )
    with pytest.raises(UserError, match="another generator config"):
        average_snapshots([*select_snapshots(run, 40), *select_snapshots(other, 0)], tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_average_command(tmp_path):
    run = _kept_run(tmp_path / "run")
    out = tmp_path / "avg.safetensors"
    result = CliRunner().invoke(app, ["average", str(run), "--from-kimg", "15", "--out", str(out), "--float32"])
    assert result.exit_code == 0, result.output
    assert "the average of 3 snapshots (20-40 kimg), D of network-000040000.safetensors" in result.output
    expected = average_snapshots(select_snapshots(run, 15), tmp_path / "lib.safetensors", half=False)
    assert json.loads(read_checkpoint(out)[1]["averaged"]) == expected
    assert load_checkpoint(out).identity == load_checkpoint(tmp_path / "lib.safetensors").identity
    result = CliRunner().invoke(app, ["average", str(run), "--from-kimg", "45", "--out", str(tmp_path / "none.st")])
    assert result.exit_code == 2 and "error: no snapshot" in result.output
    assert not (tmp_path / "none.st").exists()
