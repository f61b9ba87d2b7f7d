"""Validation messages start with the offending field, so the CLI can name its option; resuming with other settings."""

import dataclasses

import pytest

from genomekit.errors import UserError
from genomekit.networks import DiscriminatorConfig, GeneratorConfig
from genomekit.training import (
    CONFIG_ERROR_FIELDS,
    RESUMABLE_FIELDS,
    TrainConfig,
    config_error_field,
    resume_config,
    resume_conflicts,
)


def train(**kw):
    return TrainConfig(data="faces.zip", **kw)


def generator(**kw):
    return train(generator=GeneratorConfig(**kw))


def discriminator(**kw):
    return train(discriminator=DiscriminatorConfig(**kw))


# (field that must start the message, a config that is wrong in that field only)
BAD = [
    ("data", lambda: TrainConfig(data="")),
    ("batch_size", lambda: train(batch_size=1)),
    ("total_kimg", lambda: train(total_kimg=0)),
    ("snapshot_kimg", lambda: train(snapshot_kimg=-1)),
    ("g_lr", lambda: train(g_lr=0)),
    ("genome_lr_mult", lambda: train(genome_lr_mult=float("inf"))),
    ("genome_lr_mult", lambda: train(genome_lr_mult=0.5, generator=GeneratorConfig(latent="mapping"))),
    ("d_lr", lambda: train(d_lr=float("nan"))),
    ("betas", lambda: train(betas=(0.0, 1.0))),
    ("r1_gamma", lambda: train(r1_gamma=-1.0)),
    ("r1_interval", lambda: train(r1_interval=0)),
    ("pl_weight", lambda: train(pl_weight=-2.0)),
    ("pl_interval", lambda: train(pl_interval=0)),
    ("pl_decay", lambda: train(pl_decay=1.5)),
    ("style_mixing", lambda: train(style_mixing=1.1)),
    ("ema_kimg", lambda: train(ema_kimg=0.0)),
    ("ema_rampup", lambda: train(ema_rampup=-0.1)),
    ("augment", lambda: train(augment="color,flip")),
    ("seed", lambda: train(seed=-1)),
    ("grid_seed", lambda: train(grid_seed=-3)),
    ("grid_size", lambda: train(grid_size=0)),
    ("precision", lambda: train(precision="fp8")),
    ("latent", lambda: generator(latent="gaussian")),
    ("num_genes", lambda: generator(num_genes=0)),
    ("num_variants", lambda: generator(num_variants=70_000)),
    ("gene_length", lambda: generator(gene_length=-1)),
    ("mapping_layers", lambda: generator(mapping_layers=0)),
    ("z_dim", lambda: generator(z_dim=0)),
    ("resolution", lambda: generator(resolution=48)),
    ("resolution", lambda: train(generator=GeneratorConfig(resolution=32))),  # D stays at 64
    ("img_channels", lambda: train(discriminator=DiscriminatorConfig(img_channels=1))),
    ("channel_base", lambda: generator(channel_base=0)),
    ("channel_max", lambda: discriminator(channel_max=0)),
    ("conv_clamp", lambda: generator(conv_clamp=0)),
    ("num_fp16_res", lambda: discriminator(num_fp16_res=-1)),
    ("network_version", lambda: generator(network_version=3)),
    ("mbstd_group_size", lambda: discriminator(mbstd_group_size=0)),
    ("mbstd_channels", lambda: discriminator(mbstd_channels=0)),
]


@pytest.mark.parametrize("field, build", BAD, ids=[f"{field}-{i}" for i, (field, _) in enumerate(BAD)])
def test_message_starts_with_the_field_and_names_the_value(field, build):
    with pytest.raises(ValueError) as error:
        build()
    message = str(error.value)
    assert message.split(" ", 1)[0] == field, message
    assert config_error_field(error.value) == field
    assert "got" in message or "differs from" in message  # the value, or both values, are named


def test_every_listed_field_has_a_message_and_names_a_real_field():
    assert {field for field, _ in BAD} == CONFIG_ERROR_FIELDS
    names = set()
    for cls in (TrainConfig, GeneratorConfig, DiscriminatorConfig):
        names |= {f.name for f in dataclasses.fields(cls)}
    assert CONFIG_ERROR_FIELDS <= names


def test_other_errors_have_no_field():
    assert config_error_field(ValueError("something else went wrong")) is None


def test_defaults_are_valid():
    config = train(r1_gamma=0.0, ema_kimg=None, ema_rampup=None, augment="none", betas=(0.5, 0.9))
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_r1_gamma_default_and_nvlabs_heuristic():
    # 10 by default; None is NVlabs' 'auto' heuristic 0.0002 * res^2 / batch, which old checkpoints store
    assert train().resolved_r1_gamma == 10.0
    assert train(r1_gamma=None, batch_size=32).resolved_r1_gamma == pytest.approx(0.0002 * 64**2 / 32)
    legacy = train(r1_gamma=None).to_dict()
    assert TrainConfig.from_dict(legacy).r1_gamma is None


# -- resuming with other settings ------------------------------------------------------------------


def run_and_request():
    saved = train(batch_size=32, generator=GeneratorConfig(num_variants=256), g_lr=0.002, seed=1)
    requested = train(
        batch_size=16,
        generator=GeneratorConfig(num_variants=128),
        g_lr=0.001,
        total_kimg=400.0,
        seed=5,  # differs, but the user did not give it (a command-line default)
    )
    return saved, requested


def test_resume_conflicts_lists_given_fields_that_differ_with_both_values():
    saved, requested = run_and_request()
    given = {"batch_size", "generator.num_variants", "g_lr", "total_kimg"}
    assert resume_conflicts(saved, requested, given) == [
        ("generator.num_variants", 256, 128),
        ("batch_size", 32, 16),
        ("g_lr", 0.002, 0.001),
    ]
    assert resume_conflicts(saved, requested, {"total_kimg", "data", "snapshot_kimg"}) == []
    assert resume_conflicts(saved, saved, given) == []  # the run's own values again
    assert resume_conflicts(saved, requested, {"generator"}) == [("generator.num_variants", 256, 128)]
    with pytest.raises(ValueError, match="'generator.genes' is not a TrainConfig field"):
        resume_conflicts(saved, requested, {"generator.genes"})


def test_resume_config_keeps_the_runs_values_except_given_resumable_ones():
    saved, requested = run_and_request()
    resumed = resume_config(saved, requested, {"total_kimg"})
    assert resumed == saved.replace(total_kimg=400.0)  # seed stays 1, snapshot_kimg the run's
    with pytest.raises(UserError, match=r"batch_size is 32 in the run, 16 requested; g_lr is 0.002 in the run"):
        resume_config(saved, requested, {"batch_size", "g_lr"})


def test_resumable_fields_leave_the_run_as_it_was():
    assert RESUMABLE_FIELDS == {"data", "total_kimg", "snapshot_kimg"}
