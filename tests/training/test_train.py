import json
import pickle
import threading

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genomekit.cli import app
from genomekit.data import DatasetError
from genomekit.errors import UserError
from genomekit.networks import DiscriminatorConfig, GeneratorConfig
from genomekit.training import (
    TrainConfig,
    TrainingDiverged,
    TrainingInterrupted,
    dataset_resolution,
    load_discriminator,
    load_generator,
    loop,
    resume_config,
    run_config,
    train,
)
from genomekit.training.checkpoint import checkpoint_metadata, read_checkpoint
from genomekit.training.loop import batch_indices
from tests.conftest import make_image_folder


def tiny_config(data, latent="genome", **kw):
    base = dict(
        data=str(data),
        generator=GeneratorConfig(
            latent=latent,
            num_genes=4,
            num_variants=8,
            gene_length=4,
            resolution=16,
            channel_base=256,
            channel_max=32,
        ),
        discriminator=DiscriminatorConfig(resolution=16, channel_base=256, channel_max=32),
        batch_size=8,
        total_kimg=0.048,  # 6 steps
        snapshot_kimg=0.024,  # checkpoint every 3 steps
        r1_interval=2,
        pl_weight=2.0,
        pl_interval=2,
        augment="color,translation,cutout",
        grid_size=2,
        seed=3,
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("latent", ["genome", "mapping"])
def test_short_training_writes_loadable_checkpoint(tiny_dataset, tmp_path, latent):
    out = tmp_path / "run"
    ckpt = train(tiny_config(tiny_dataset, latent), out, log_interval_s=0)
    G = load_generator(ckpt)
    D = load_discriminator(ckpt)
    codes = G.sample_codes(2, torch.Generator().manual_seed(0))
    images = G(codes)
    assert images.shape == (2, 3, 16, 16) and torch.isfinite(images).all()
    assert D(images).shape == (2, 1)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["nimg"] for r in rows] == [24, 48]
    assert all(torch.isfinite(torch.tensor([r["loss_G"], r["loss_D"]])).all() for r in rows)
    assert {"r1_penalty", "pl_penalty", "img_per_s", "sec_per_kimg"} <= rows[0].keys()
    grids = sorted(p.name for p in (out / "grids").iterdir())
    assert grids == ["fakes-000000000.png", "fakes-000000024.png", "fakes-000000048.png", "reals.png"]
    assert json.loads((out / "config.json").read_text())["generator"]["latent"] == latent


def test_resume_equals_uninterrupted(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset)
    straight = read_checkpoint(train(config, tmp_path / "a", log_interval_s=0))[0]
    train(config, tmp_path / "b", log_interval_s=0, max_steps=3)  # "interrupted" after the first snapshot
    progress = json.loads(read_checkpoint(tmp_path / "b" / "checkpoint.safetensors")[1]["progress"])
    assert (progress["step"], progress["nimg"]) == (3, 24)
    resumed = read_checkpoint(train(config, tmp_path / "b", resume=True, log_interval_s=0))[0]
    assert straight.keys() == resumed.keys()
    different = [k for k in straight if not torch.equal(straight[k], resumed[k])]
    assert different == []
    rows = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["nimg"] for r in rows] == [24, 48]


def test_same_seed_same_weights_other_seed_differs(tiny_dataset, tmp_path):
    a = read_checkpoint(train(tiny_config(tiny_dataset, total_kimg=0.024), tmp_path / "a", log_interval_s=0))[0]
    b = read_checkpoint(train(tiny_config(tiny_dataset, total_kimg=0.024), tmp_path / "b", log_interval_s=0))[0]
    c = read_checkpoint(train(tiny_config(tiny_dataset, total_kimg=0.024, seed=4), tmp_path / "c", log_interval_s=0))[0]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["G.latent.genes"], c["G.latent.genes"])


def test_nan_loss_stops_and_keeps_last_checkpoint(tiny_dataset, tmp_path, monkeypatch):
    config = tiny_config(tiny_dataset)
    out = tmp_path / "run"
    train(config, out, log_interval_s=0, max_steps=3)
    before = (out / "checkpoint.safetensors").read_bytes()
    from genomekit.networks import Discriminator

    monkeypatch.setattr(Discriminator, "forward", lambda self, x: torch.full((x.shape[0], 1), float("nan")))
    with pytest.raises(TrainingDiverged, match="last good checkpoint"):
        train(config, out, resume=True, log_interval_s=0)
    assert (out / "checkpoint.safetensors").read_bytes() == before


def test_refuses_to_overwrite_a_run(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset, total_kimg=0.024)
    train(config, tmp_path / "run", log_interval_s=0)
    with pytest.raises(Exception, match="--resume"):
        train(config, tmp_path / "run", log_interval_s=0)


def test_batch_indices_cover_each_epoch_once_and_split_by_rank():
    n, batch = 10, 4
    seen = [i for step in range(5) for i in batch_indices(step, batch, n, seed=0, rank=0, world_size=1)]
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:20]) == list(range(10))
    r0 = batch_indices(3, batch, n, seed=0, rank=0, world_size=2)
    r1 = batch_indices(3, batch, n, seed=0, rank=1, world_size=2)
    assert r0 + r1 == batch_indices(3, batch, n, seed=0, rank=0, world_size=1)
    assert batch_indices(3, batch, n, seed=1, rank=0, world_size=1) != batch_indices(
        3, batch, n, seed=0, rank=0, world_size=1
    )


# -- interrupts ----------------------------------------------------------------------------------
# The tiny config runs 6 steps of 8 images with a snapshot every 3 steps; an interrupt at a seeded random
# moment (mid-interval or during a snapshot), then a resume, must give the uninterrupted run's weights.


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """An uninterrupted run: (data, final tensors, metrics rows)."""
    root = tmp_path_factory.mktemp("straight")
    data = make_image_folder(root / "data")
    ckpt = train(tiny_config(data), root / "run", log_interval_s=0)
    return data, read_checkpoint(ckpt)[0], metrics_rows(root / "run")


def metrics_rows(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def progress_of(ckpt):
    return json.loads(read_checkpoint(ckpt)[1]["progress"])


def assert_resume_equals_straight(straight_run, out):
    data, straight, straight_rows = straight_run
    resumed = read_checkpoint(train(tiny_config(data), out, resume=True, log_interval_s=0))[0]
    assert straight.keys() == resumed.keys()
    assert [k for k in straight if not torch.equal(straight[k], resumed[k])] == []
    rows = metrics_rows(out)
    assert [r["nimg"] for r in rows] == [24, 48]
    losses = ("loss_G", "loss_D", "score_real", "score_fake", "r1_penalty", "pl_penalty")
    assert [[r[k] for k in losses] for r in rows] == [[r[k] for k in losses] for r in straight_rows]


def random_moments(high):
    """Three seeded random moments in [0, high), different for these seeds."""
    return [int(np.random.default_rng(seed).integers(0, high)) for seed in (0, 1, 4)]


@pytest.mark.parametrize("at_step", random_moments(5))  # the stop is requested during this step (5 is the last)
def test_stop_event_finishes_the_step_then_resume_equals_uninterrupted(straight_run, tmp_path, monkeypatch, at_step):
    data, _, _ = straight_run
    stop = threading.Event()
    original = loop.train_step

    def step_then_request(state, *args):
        if state.step == at_step:
            stop.set()  # as the CLI's SIGINT handler would, half-way through the step
        return original(state, *args)

    monkeypatch.setattr(loop, "train_step", step_then_request)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as interrupted:
        train(tiny_config(data), out, log_interval_s=0, stop=stop)
    assert interrupted.value.path == out / "checkpoint.safetensors"
    assert interrupted.value.nimg == 8 * (at_step + 1) == progress_of(interrupted.value.path)["nimg"]
    assert f"interrupted at {interrupted.value.kimg:g} kimg" in str(interrupted.value)
    monkeypatch.setattr(loop, "train_step", original)
    assert_resume_equals_straight(straight_run, out)


@pytest.mark.parametrize("at_call", [*random_moments(18), 2])  # 2: step 0, after Adam made state it had not
def test_keyboard_interrupt_mid_step_is_undone_then_resume_equals_uninterrupted(
    straight_run, tmp_path, monkeypatch, at_call
):
    """Ctrl-C without a handler: KeyboardInterrupt at a random augmentation call (3 per step, two of them
    after the generator's update), so the step in progress is half-applied and must be rolled back."""
    data, _, _ = straight_run
    calls = []
    original = loop.augment

    def augment_or_interrupt(*args):
        calls.append(1)
        if len(calls) == at_call + 1:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(loop, "augment", augment_or_interrupt)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as interrupted:
        train(tiny_config(data), out, log_interval_s=0)
    done_steps = at_call // 3  # the step of the interrupted call is discarded
    assert progress_of(interrupted.value.path)["step"] == done_steps
    assert interrupted.value.nimg == 8 * done_steps
    monkeypatch.setattr(loop, "augment", original)
    assert_resume_equals_straight(straight_run, out)


def test_keyboard_interrupt_while_writing_a_snapshot(straight_run, tmp_path, monkeypatch):
    """Ctrl-C inside the first snapshot's checkpoint write: its metrics row is written, the write is abandoned,
    and the step before it is saved; on resume the row is dropped and written again, once."""
    data, _, _ = straight_run
    original = loop.save_training_checkpoint
    calls = []

    def interrupt_once(*args):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(loop, "save_training_checkpoint", interrupt_once)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as interrupted:
        train(tiny_config(data), out, log_interval_s=0)
    assert interrupted.value.nimg == 16 and [r["nimg"] for r in metrics_rows(out)] == [24]
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    monkeypatch.setattr(loop, "save_training_checkpoint", original)
    assert_resume_equals_straight(straight_run, out)


def test_stop_before_the_first_step_saves_a_resumable_start(straight_run, tmp_path):
    data, _, _ = straight_run
    stop = threading.Event()
    stop.set()
    with pytest.raises(TrainingInterrupted) as interrupted:
        train(tiny_config(data), tmp_path / "run", log_interval_s=0, stop=stop)
    assert interrupted.value.nimg == 0 and isinstance(interrupted.value, KeyboardInterrupt)
    assert pickle.loads(pickle.dumps(interrupted.value)).path == interrupted.value.path
    assert_resume_equals_straight(straight_run, tmp_path / "run")


def test_resume_keeps_the_runs_settings_and_takes_a_new_length(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset, total_kimg=0.024)
    out = tmp_path / "run"
    with pytest.raises(UserError, match="nothing to resume"):
        run_config(out)
    train(config, out, log_interval_s=0)
    assert run_config(out) == config
    requested = tiny_config(tiny_dataset, total_kimg=0.048, g_lr=0.001, batch_size=4, seed=9)
    ckpt = train(resume_config(run_config(out), requested, {"total_kimg"}), out, resume=True, log_interval_s=0)
    metadata = checkpoint_metadata(ckpt)
    assert metadata["progress"]["nimg"] == 48 and metadata["config"]["total_kimg"] == 0.048
    assert (metadata["config"]["g_lr"], metadata["config"]["batch_size"], metadata["config"]["seed"]) == (0.002, 8, 3)
    assert [g["lr"] for g in metadata["optimizers"]["G"]] == [0.002]
    assert json.loads((out / "config.json").read_text())["total_kimg"] == 0.048
    assert [r["nimg"] for r in metrics_rows(out)] == [24, 48]


# -- the command line ------------------------------------------------------------------------------

runner = CliRunner()


def run_cli(*args):
    return runner.invoke(app, ["train", *map(str, args)])


def cli_args(data, out, *extra):
    return [
        "--data",
        data,
        "--out",
        out,
        "--resolution",
        16,
        "--batch",
        4,
        "--kimg",
        0.008,
        "--snap",
        0.008,
        "--health-samples",
        16,
        "--genes",
        4,
        "--variants",
        8,
        "--gene-length",
        4,
        "--channel-base",
        128,
        "--channel-max",
        16,
        "--device",
        "cpu",
        *extra,
    ]


def test_cli_trains_and_resumes(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    result = run_cli(*cli_args(tiny_dataset, out))
    assert result.exit_code == 0, result.output
    assert (out / "checkpoint.safetensors").is_file()
    result = run_cli(*cli_args(tiny_dataset, out, "--resume"))
    assert result.exit_code == 0, result.output  # already complete: resumes and finishes at once
    result = run_cli(*cli_args(tiny_dataset, out))
    assert result.exit_code == 2 and "--resume" in result.output


def test_cli_discriminator_width_is_its_own_and_resume_keeps_it(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    result = run_cli(*cli_args(tiny_dataset, out, "--d-channel-base", 256, "--d-channel-max", 32))
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert (config["generator"]["channel_base"], config["generator"]["channel_max"]) == (128, 16)
    assert (config["discriminator"]["channel_base"], config["discriminator"]["channel_max"]) == (256, 32)
    D = load_discriminator(out / "checkpoint.safetensors")
    assert D.config.channel_base == 256 and D.config.channel_max == 32
    result = run_cli(*cli_args(tiny_dataset, out, "--resume", "--kimg", 0.012))  # D's width is the run's
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["discriminator"]["channel_base"] == 256
    result = run_cli(*cli_args(tiny_dataset, out, "--resume", "--d-channel-base", 128))
    assert result.exit_code == 2 and "--d-channel-base is 256 in the run, 128 requested" in result.output


def test_cli_minibatch_stddev_group_reaches_d_and_resume_keeps_it(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    result = run_cli(*cli_args(tiny_dataset, out, "--mbstd-group", 2))
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["discriminator"]["mbstd_group_size"] == 2
    assert load_discriminator(out / "checkpoint.safetensors").config.mbstd_group_size == 2
    result = run_cli(*cli_args(tiny_dataset, out, "--resume", "--mbstd-group", 4))
    assert result.exit_code == 2 and "--mbstd-group is 2 in the run, 4 requested" in result.output


@pytest.mark.parametrize(
    "setup, message",
    [
        ("missing", "dataset not found"),
        ("unreadable", "cannot read image"),
        ("mixed", "all images must have the same size"),
        ("wrong_resolution", "were asked for (--resolution 16)"),
        ("empty", "holds no images"),
    ],
)
def test_cli_bad_data_gives_one_clear_line(tmp_path, setup, message):
    data = tmp_path / "data"
    if setup != "missing":
        data.mkdir()
    if setup in ("unreadable", "mixed"):
        make_image_folder(data, count=4, resolution=16)
    if setup == "unreadable":
        (data / "00002.png").write_bytes(b"not a png")
    if setup == "mixed":
        make_image_folder(tmp_path / "big", count=1, resolution=32)
        (tmp_path / "big" / "00000.png").rename(data / "zzz.png")
    if setup == "wrong_resolution":
        make_image_folder(data, count=4, resolution=32)
    result = run_cli(*cli_args(data, tmp_path / "run"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()


def test_cli_rejects_resolution_not_power_of_two(tiny_dataset, tmp_path):
    args = cli_args(tiny_dataset, tmp_path / "run")
    args[args.index("--resolution") + 1] = 48
    result = run_cli(*args)
    assert result.exit_code == 2 and "power of two" in result.output


def test_cli_rejects_resume_without_run(tiny_dataset, tmp_path):
    result = run_cli(*cli_args(tiny_dataset, tmp_path / "nothing", "--resume"))
    assert result.exit_code == 2 and "nothing to resume" in result.output


def test_dataset_resolution_follows_the_images(tmp_path):
    assert dataset_resolution(make_image_folder(tmp_path / "sixteen", count=2, resolution=16)) == 16
    with pytest.raises(DatasetError, match=r"12x12 images; .* power of two >= 4 \(rebuild the dataset at 8 or 16\)"):
        dataset_resolution(make_image_folder(tmp_path / "twelve", count=2, resolution=12))
    celeba = tmp_path / "celeba"
    celeba.mkdir()
    (celeba / "list_attr_celeba.txt").write_text("0\n")
    with pytest.raises(DatasetError, match="CelebA folder.*no resolution of its own"):
        dataset_resolution(celeba)
    with pytest.raises(DatasetError, match="not found"):
        dataset_resolution(tmp_path / "missing")
