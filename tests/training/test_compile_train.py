"""train(compile_networks=True) and `train --compile`: G's synthesis and D's forward passes through
torch.compile give eager's losses; R1 and path length stay on the eager modules.

The compiled runs use the "aot_eager" backend (graph capture and AOTAutograd's backward, no generated
kernels), so they take seconds on the CPU; inductor's kernels are checked against eager in
tests/networks/test_compile.py. R1 and path length run at steps 0 and 2 of these runs: had either gone
through a compiled pass, its double backward would raise ("does not currently support double backward").
"""

from __future__ import annotations

import logging

import pytest
import torch

from genomekit.compile import CompiledModule, compile_module, unavailable_reason
from genomekit.training import loop, train
from genomekit.training.checkpoint import read_checkpoint
from tests.training.test_train import cli_args, run_cli, tiny_config

pytestmark = pytest.mark.usefixtures("fresh_dynamo")


@pytest.fixture
def aot_eager(monkeypatch):
    """``train``'s compile_module with the aot_eager backend; returns the wrappers it made."""
    made = []

    def compile_aot_eager(module, enabled):
        wrapper = compile_module(module, enabled, backend="aot_eager")
        if enabled:
            made.append(wrapper)
        return wrapper

    monkeypatch.setattr(loop, "compile_module", compile_aot_eager)
    return made


@pytest.fixture
def step_losses(monkeypatch):
    """Every train_step's losses, as floats, in order."""
    steps = []
    original = loop.train_step

    def record(*args):
        stats = original(*args)
        steps.append({k: float(v) for k, v in stats.items()})
        return stats

    monkeypatch.setattr(loop, "train_step", record)
    return steps


# Measured: fp32 identical (0.0) in every loss and weight; bf16 identical at step 0 and within 8e-4 after
# (the compiled graphs round their bfloat16 products in another order, and the weights drift apart).
@pytest.mark.parametrize(("precision", "tolerance"), [("fp32", 1e-5), ("bf16", 1e-2)])
def test_compiled_training_gives_the_eager_losses(tiny_dataset, tmp_path, aot_eager, step_losses, precision, tolerance):
    config = tiny_config(tiny_dataset, total_kimg=0.024, snapshot_kimg=0.024, precision=precision)  # 3 steps
    eager_ckpt = train(config, tmp_path / "eager", log_interval_s=0)
    eager = list(step_losses)
    step_losses.clear()
    compiled_ckpt = train(config, tmp_path / "compiled", log_interval_s=0, compile_networks=True)
    names = [w.name for w in aot_eager]
    assert names == ["SynthesisNetwork", "Discriminator"]
    assert all(isinstance(w, CompiledModule) and w.compiled for w in aot_eager)  # no fallback to eager
    assert len(step_losses) == len(eager) == 3
    assert "r1_penalty" in eager[0] and "pl_penalty" in eager[2]  # the eager passes ran
    for step, (expected, got) in enumerate(zip(eager, step_losses, strict=True)):
        assert got.keys() == expected.keys()
        for name in expected:
            assert abs(got[name] - expected[name]) <= tolerance, (step, name, got[name], expected[name])
    if precision == "fp32":
        eager_weights, compiled_weights = read_checkpoint(eager_ckpt)[0], read_checkpoint(compiled_ckpt)[0]
        assert eager_weights.keys() == compiled_weights.keys()  # the wrappers leave the checkpoint's keys alone
        for name, value in eager_weights.items():
            torch.testing.assert_close(compiled_weights[name], value, rtol=0, atol=1e-5, msg=name)


@pytest.mark.slow
def test_inductor_training_gives_the_eager_losses(tiny_dataset, tmp_path, step_losses, caplog):
    """The default backend: inductor's generated C++ kernels, 2 steps (R1 and path length at step 0).
    About 100 s on one core with a cold inductor cache, nearly all of it compiling. Measured: losses within 3e-7, weights 1e-6."""
    if (reason := unavailable_reason("inductor", torch.device("cpu"))) is not None:
        pytest.skip(reason)
    config = tiny_config(tiny_dataset, total_kimg=0.016, snapshot_kimg=0.016)
    eager_ckpt = train(config, tmp_path / "eager", log_interval_s=0)
    eager = list(step_losses)
    step_losses.clear()
    with caplog.at_level(logging.WARNING, logger="genomekit.compile"):
        compiled_ckpt = train(config, tmp_path / "compiled", log_interval_s=0, compile_networks=True)
    assert not caplog.records  # compiled throughout, no fallback to eager
    assert len(step_losses) == len(eager) == 2
    for expected, got in zip(eager, step_losses, strict=True):
        assert got.keys() == expected.keys()
        for name in expected:
            assert abs(got[name] - expected[name]) <= 1e-5, (name, got[name], expected[name])
    eager_weights, compiled_weights = read_checkpoint(eager_ckpt)[0], read_checkpoint(compiled_ckpt)[0]
    for name, value in eager_weights.items():
        torch.testing.assert_close(compiled_weights[name], value, rtol=0, atol=1e-5, msg=name)


def test_cli_passes_compile_and_auto_workers(tiny_dataset, tmp_path, monkeypatch):
    import genomekit.training

    calls = []
    monkeypatch.setattr(genomekit.training, "train", lambda config, out, **kwargs: calls.append(kwargs) or out)
    assert run_cli(*cli_args(tiny_dataset, tmp_path / "a", "--no-health")).exit_code == 0
    assert run_cli(*cli_args(tiny_dataset, tmp_path / "b", "--no-health", "--compile", "--workers", 2)).exit_code == 0
    assert [(c["compile_networks"], c["workers"]) for c in calls] == [(False, None), (True, 2)]  # None: auto
    bad = run_cli(*cli_args(tiny_dataset, tmp_path / "c", "--workers", -1))
    assert bad.exit_code == 2 and bad.output.strip() == "error: --workers must be at least 0, got -1"
