"""--genome-lr-mult: the Genome's variants learn at g_lr x the multiplier (0: frozen), for the genome
collapse experiment (issue 13: does dominance shrink at a lower genome learning rate?)."""

import json

import pytest
import torch

from genomekit.training import loop, train
from genomekit.training.checkpoint import read_checkpoint
from tests.training.test_train import tiny_config


def _initial_genes(config):
    return loop.build_state(config, torch.device("cpu"), loop.Distributed()).G.latent.genes.detach().clone()


@pytest.mark.parametrize("mult", [1.0, 0.1])
def test_the_first_adam_step_moves_each_variant_entry_by_the_scaled_learning_rate(tiny_dataset, tmp_path, mult):
    # Adam's first step (beta1 = 0) moves every coordinate with a gradient by lr x g / (|g| + eps): by lr.
    config = tiny_config(tiny_dataset, genome_lr_mult=mult, augment="", style_mixing=0.0, pl_weight=0.0)
    start = _initial_genes(config)
    weights = read_checkpoint(train(config, tmp_path / "run", log_interval_s=0, max_steps=1))[0]
    step = (weights["G.latent.genes"] - start).abs()
    moved = step[step > 0]
    assert moved.numel() > 0.5 * step.numel()  # the batch drew most variants
    torch.testing.assert_close(moved, torch.full_like(moved, config.g_lr * mult), rtol=1e-3, atol=0)


def test_a_zero_multiplier_freezes_the_genome_and_trains_the_rest(tiny_dataset, tmp_path):
    config = tiny_config(tiny_dataset, genome_lr_mult=0.0)
    start = _initial_genes(config)
    initial = loop.build_state(config, torch.device("cpu"), loop.Distributed()).G.state_dict()
    weights = read_checkpoint(train(config, tmp_path / "run", log_interval_s=0))[0]
    assert torch.equal(weights["G.latent.genes"], start) and torch.equal(weights["G_ema.latent.genes"], start)
    changed = [k for k, v in initial.items() if k != "latent.genes" and not torch.equal(weights[f"G.{k}"], v)]
    assert len(changed) > 0.5 * (len(initial) - 1)  # the synthesis network trained


@pytest.mark.parametrize("mult", [0.0, 0.1])
def test_resume_equals_uninterrupted_with_a_genome_multiplier(tiny_dataset, tmp_path, mult):
    config = tiny_config(tiny_dataset, genome_lr_mult=mult)
    straight = read_checkpoint(train(config, tmp_path / "a", log_interval_s=0))[0]
    train(config, tmp_path / "b", log_interval_s=0, max_steps=3)
    resumed = read_checkpoint(train(config, tmp_path / "b", resume=True, log_interval_s=0))[0]
    assert [k for k in straight if not torch.equal(straight[k], resumed[k])] == []
    assert json.loads((tmp_path / "b" / "config.json").read_text())["genome_lr_mult"] == mult


def test_the_multiplier_is_checked():
    with pytest.raises(ValueError, match="genome_lr_mult must be a finite number >= 0"):
        tiny_config("unused", genome_lr_mult=-0.1)
