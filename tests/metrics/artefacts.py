"""Real tiny artefacts for the metrics and probe tests: trained-for-two-steps GANs, a classifier set, images."""

from __future__ import annotations

from pathlib import Path

import torch

from classifiers import MultiHeadClassifierSet, MultiHeadConfig, save_classifier_set
from genomekit.networks import DiscriminatorConfig, GeneratorConfig
from genomekit.training import TrainConfig, train
from tests.conftest import make_image_folder

ATTRIBUTES = ("Smiling", "Eyeglasses", "Male")


def make_images(path: Path, count: int = 12, resolution: int = 16, seed: int = 0) -> Path:
    return make_image_folder(path, count=count, resolution=resolution, seed=seed)


def make_model(root: Path, data: Path, latent: str) -> Path:
    """A 16-px GAN with the given latent ('genome' or 'mapping'), trained for two steps."""
    config = TrainConfig(
        data=str(data),
        generator=GeneratorConfig(
            latent=latent, num_genes=4, num_variants=8, gene_length=4, resolution=16, channel_base=128, channel_max=16
        ),
        discriminator=DiscriminatorConfig(resolution=16, channel_base=128, channel_max=16),
        batch_size=4,
        total_kimg=0.008,
        snapshot_kimg=0.008,
        grid_size=1,
        seed=1,
    )
    return train(config, root / latent, log_interval_s=0)


def make_classifiers(path: Path, seed: int = 0) -> Path:
    """An untrained (deterministic) multi-head classifier set at 16 px."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = MultiHeadClassifierSet(
            list(ATTRIBUTES), MultiHeadConfig(resolution=16, stem_channels=4, channels=(8, 8))
        )
    return save_classifier_set(classifier, path)
