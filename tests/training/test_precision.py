"""Training in bfloat16 (autocast; runs on the CPU) and float16 with loss scaling: a run that records its
precision and keeps it on resume, losses close to float32's, fp16 refused off CUDA, and float32 as before.

float16 autocast also runs on the CPU, so the loss-scaling path (GradScaler per optimiser, skipped steps,
scaler state in the checkpoint) is tested there with the CUDA-only check switched off."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from genomekit.errors import UserError
from genomekit.training import TrainingDiverged, TrainingInterrupted, loop, run_config, train
from genomekit.training.checkpoint import checkpoint_metadata, read_checkpoint
from tests.conftest import make_image_folder
from tests.training.test_train import cli_args, metrics_rows, run_cli, tiny_config

LOSSES = ("loss_G", "loss_D", "score_real", "score_fake", "r1_penalty", "pl_penalty")


def _equal_tensors(a_path, b_path) -> list[str]:
    a, b = read_checkpoint(a_path)[0], read_checkpoint(b_path)[0]
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


@pytest.fixture
def fp16_on_cpu(monkeypatch):
    """Let fp16 run on the CPU (CPU autocast does float16), to test the loss-scaling path without a GPU."""
    monkeypatch.setattr(loop, "check_precision", lambda precision, device: precision)


def fp16_config(data):
    return tiny_config(data, precision="fp16", total_kimg=0.032, snapshot_kimg=0.016)  # 4 steps, CPU float16 is slow


@pytest.fixture(scope="module")
def fp16_straight(tmp_path_factory):
    """An uninterrupted fp16 run on the CPU: (data, checkpoint)."""
    root = tmp_path_factory.mktemp("fp16")
    data = make_image_folder(root / "data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "check_precision", lambda precision, device: precision)
        return data, train(fp16_config(data), root / "run", log_interval_s=0)


def test_bf16_run_is_finite_close_to_fp32_and_records_its_precision(tiny_dataset, tmp_path):
    exact = train(tiny_config(tiny_dataset), tmp_path / "fp32", log_interval_s=0)
    ckpt = train(tiny_config(tiny_dataset, precision="bf16"), tmp_path / "bf16", log_interval_s=0)
    rows, exact_rows = metrics_rows(tmp_path / "bf16"), metrics_rows(tmp_path / "fp32")
    assert [r["nimg"] for r in rows] == [24, 48]
    values = torch.tensor([[r[k] for k in LOSSES] for r in rows])
    assert torch.isfinite(values).all()
    reference = torch.tensor([[r[k] for k in LOSSES] for r in exact_rows])
    # Measured: at most 0.003 for the G and D losses, 0.008 for D's mean scores, 0.006 for path length, 3e-5 R1.
    assert (values - reference).abs().max() < 0.03, (values - reference).abs()
    assert not torch.equal(values, reference)  # bfloat16 really ran
    assert checkpoint_metadata(ckpt)["config"]["precision"] == "bf16"
    assert json.loads((tmp_path / "bf16" / "config.json").read_text())["precision"] == "bf16"
    assert "scalers" not in checkpoint_metadata(ckpt)  # bfloat16 needs no loss scaling
    assert checkpoint_metadata(exact)["config"]["precision"] == "fp32"


def test_bf16_resume_keeps_bf16_and_equals_uninterrupted(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset, precision="bf16")
    straight = train(config, tmp_path / "a", log_interval_s=0)
    train(config, tmp_path / "b", log_interval_s=0, max_steps=3)
    assert run_config(tmp_path / "b").precision == "bf16"
    resumed = train(config.replace(precision="fp32"), tmp_path / "b", resume=True, log_interval_s=0)  # run's own
    assert checkpoint_metadata(resumed)["config"]["precision"] == "bf16"
    assert _equal_tensors(straight, resumed) == []
    assert [[r[k] for k in LOSSES] for r in metrics_rows(tmp_path / "b")] == [
        [r[k] for k in LOSSES] for r in metrics_rows(tmp_path / "a")
    ]


def test_cli_resume_keeps_bf16_and_refuses_another_precision(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    result = run_cli(*cli_args(tiny_dataset, out, "--precision", "bf16", "--no-health"))
    assert result.exit_code == 0, result.output
    assert run_config(out).precision == "bf16"
    before = (out / "checkpoint.safetensors").read_bytes()
    refused = run_cli(*cli_args(tiny_dataset, out, "--resume", "--precision", "fp32", "--no-health"))
    assert refused.exit_code == 2, refused.output
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --resume continues the run in its own settings; ")
    assert "--precision is 'bf16' in the run, 'fp32' requested" in lines[0]
    assert (out / "checkpoint.safetensors").read_bytes() == before
    again = run_cli(*cli_args(tiny_dataset, out, "--resume", "--kimg", 0.016, "--no-health"))  # no flag: the run's
    assert again.exit_code == 0, again.output
    assert checkpoint_metadata(out / "checkpoint.safetensors")["config"]["precision"] == "bf16"


def test_fp16_needs_cuda(tiny_dataset, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("fp16 runs on CUDA")
    out = tmp_path / "run"
    result = run_cli(*cli_args(tiny_dataset, out, "--precision", "fp16"))
    assert result.exit_code == 2, result.output
    assert result.output.strip() == "error: precision fp16 needs a CUDA device; use bf16 (or fp32) on the CPU"
    assert not out.exists()
    with pytest.raises(UserError, match="fp16 needs a CUDA device"):
        train(tiny_config(tiny_dataset, precision="fp16"), out, log_interval_s=0)
    assert not out.exists()
    bad = run_cli(*cli_args(tiny_dataset, out, "--precision", "fp8"))
    assert bad.exit_code == 2 and bad.output.strip() == "error: --precision must be one of fp32, bf16, fp16, got 'fp8'"


def test_fp16_scalers_are_checkpointed_and_resume_is_exact(fp16_straight, tmp_path, fp16_on_cpu):
    data, straight = fp16_straight
    config = fp16_config(data)
    scalers = checkpoint_metadata(straight)["scalers"]
    assert set(scalers) == {"G", "D"}
    # the initial scale 2^16; a step whose float16 gradients overflowed was skipped and halved it
    assert all(s["scale"] <= 2.0**16 and s["_growth_tracker"] <= 4 for s in scalers.values()), scalers
    assert torch.isfinite(torch.tensor([[r[k] for k in LOSSES] for r in metrics_rows(straight.parent)])).all()
    train(config, tmp_path / "b", log_interval_s=0, max_steps=2)
    resumed = train(config, tmp_path / "b", resume=True, log_interval_s=0)
    assert checkpoint_metadata(resumed)["scalers"] == scalers
    assert _equal_tensors(straight, resumed) == []


def test_fp16_step_with_inf_gradients_is_skipped(tiny_dataset, fp16_on_cpu):
    config = tiny_config(tiny_dataset, precision="fp16", pl_weight=0.0)
    state = loop.build_state(config, torch.device("cpu"), loop.Distributed())
    state.scalers["G"] = torch.amp.GradScaler("cpu", init_scale=2.0**100)  # float16 gradients must overflow
    before = {k: v.clone() for k, v in state.G.state_dict().items()}
    d_before = [p.detach().clone() for p in state.D.parameters()]
    reals = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    stats = loop.train_step(state, config, reals, loop.Distributed())
    assert all(torch.isfinite(v) for v in stats.values())  # the losses were fine; only the gradients overflowed
    changed = [k for k, v in state.G.state_dict().items() if not torch.equal(v, before[k])]
    assert [k for k in changed if not k.endswith("w_avg")] == []  # the G step was skipped
    assert state.scalers["G"].get_scale() == 2.0**99  # ... and the scale halved
    assert any(not torch.equal(p, q) for p, q in zip(state.D.parameters(), d_before, strict=True))  # D stepped


def test_fp16_keyboard_interrupt_mid_step_restores_the_scalers(fp16_straight, tmp_path, monkeypatch, fp16_on_cpu):
    data, straight = fp16_straight
    config = fp16_config(data)
    calls, original = [], loop.augment

    def augment_or_interrupt(*args):  # the third augmentation of step 1: after G's scaler has updated
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(loop, "augment", augment_or_interrupt)
    with pytest.raises(TrainingInterrupted):
        train(config, tmp_path / "b", log_interval_s=0)
    monkeypatch.setattr(loop, "augment", original)
    interrupted = checkpoint_metadata(tmp_path / "b" / "checkpoint.safetensors")
    assert interrupted["progress"]["step"] == 1
    resumed = train(config, tmp_path / "b", resume=True, log_interval_s=0)
    assert checkpoint_metadata(resumed)["scalers"] == checkpoint_metadata(straight)["scalers"]
    assert _equal_tensors(straight, resumed) == []


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_a_nan_loss_still_stops_the_run(tiny_dataset, tmp_path, monkeypatch, fp16_on_cpu, precision):
    from genomekit.networks import Discriminator

    monkeypatch.setattr(Discriminator, "forward", lambda self, x: torch.full((x.shape[0], 1), float("nan")))
    with pytest.raises(TrainingDiverged, match="generator loss became NaN or infinite at step 0"):
        train(tiny_config(tiny_dataset, precision=precision), tmp_path / "run", log_interval_s=0)


def test_a_checkpoint_without_precision_loads_as_fp32_and_resumes(tiny_dataset, tmp_path):
    """Checkpoints written before precision was a config field: fp32, and they resume as before."""
    config = tiny_config(tiny_dataset)
    straight = train(config, tmp_path / "a", log_interval_s=0)
    train(config, tmp_path / "b", log_interval_s=0, max_steps=3)
    path = tmp_path / "b" / "checkpoint.safetensors"
    tensors, metadata = read_checkpoint(path)
    old = json.loads(metadata["config"])
    del old["precision"]
    save_file(tensors, str(path), metadata={**metadata, "config": json.dumps(old)})
    assert run_config(tmp_path / "b").precision == "fp32"
    resumed = train(config, tmp_path / "b", resume=True, log_interval_s=0)
    assert _equal_tensors(straight, resumed) == []


def test_fp32_losses_are_floats_of_the_step_tensors(tiny_dataset, tmp_path, monkeypatch, caplog):
    """The step keeps its losses as device tensors (no host sync); the log line and metrics rows show them
    as before: the progress line's G and D are the step's losses, to 3 decimals."""
    steps = []
    original = loop.train_step

    def record(*args):
        stats = original(*args)
        assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float32 and v.ndim == 0 for v in stats.values())
        steps.append({k: float(v) for k, v in stats.items()})
        return stats

    monkeypatch.setattr(loop, "train_step", record)
    caplog.set_level("INFO", logger="genomekit.training.loop")
    train(tiny_config(tiny_dataset), tmp_path / "run", log_interval_s=0)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("kimg ")]
    assert len(lines) == len(steps) == 6
    for line, step in zip(lines, steps, strict=True):
        assert f"G {step['loss_G']:.3f}  D {step['loss_D']:.3f}" in line
    first = metrics_rows(tmp_path / "run")[0]
    assert first["loss_G"] == sum(s["loss_G"] for s in steps[:3]) / 3  # float64 sums, as Python's floats


def test_cli_sets_the_cuda_math_from_deterministic(tiny_dataset, tmp_path, monkeypatch):
    import genomekit.precision

    calls = []
    monkeypatch.setattr(genomekit.precision, "configure_backends", lambda device, exact: calls.append((device, exact)))
    assert run_cli(*cli_args(tiny_dataset, tmp_path / "a", "--no-health")).exit_code == 0
    assert run_cli(*cli_args(tiny_dataset, tmp_path / "b", "--no-health", "--deterministic")).exit_code == 0
    assert calls == [("cpu", False), ("cpu", True)]  # TF32 and autotuning by default; exact on request
