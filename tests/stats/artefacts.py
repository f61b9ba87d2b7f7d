"""Real tiny artefacts for the stats tests: a genome GAN checkpoint and a classifier set, untrained."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from classifiers import MultiHeadClassifierSet, MultiHeadConfig, save_classifier_set
from genomekit.networks import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from genomekit.training.checkpoint import TrainingState, save_training_checkpoint

ATTRIBUTES = ("Smiling", "Eyeglasses", "Male")


def make_checkpoint(
    path: Path, *, latent: str = "genome", seed: int = 0, num_genes: int = 4, num_variants: int = 8, resolution: int = 8
) -> Path:
    """An untrained generator + discriminator saved as a genomekit training checkpoint."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = Generator(
            GeneratorConfig(
                latent=latent,
                num_genes=num_genes,
                num_variants=num_variants,
                gene_length=4,
                resolution=resolution,
                channel_base=128,
                channel_max=16,
            )
        )
        D = Discriminator(DiscriminatorConfig(resolution=resolution, channel_base=128, channel_max=16))
    state = TrainingState(
        config={"note": "tiny untrained test model"},
        G=G,
        G_ema=copy.deepcopy(G),
        D=D,
        opt_G=torch.optim.Adam(G.parameters()),
        opt_D=torch.optim.Adam(D.parameters()),
        rng=torch.Generator().manual_seed(seed),
    )
    save_training_checkpoint(path, state)
    return path


def make_classifiers(path: Path, *, seed: int = 0, attributes: tuple[str, ...] = ATTRIBUTES) -> Path:
    """An untrained multi-head classifier set saved as a directory."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = MultiHeadClassifierSet(
            list(attributes), MultiHeadConfig(resolution=8, stem_channels=4, channels=(8,))
        )
    return save_classifier_set(classifier, path)


def make_celebahq_classifiers(
    path: Path, *, seed: int = 0, attributes: tuple[str, ...] = ATTRIBUTES, mbstd_group_size: int = 4
) -> Path:
    """Random StyleGAN CelebA-HQ-architecture networks at 8 px (minibatch stddev over groups of mbstd_group_size), saved."""
    from classifiers import CelebAHQClassifierSet, CelebAHQConfig, CelebAHQNetwork

    config = CelebAHQConfig(resolution=8, fmap_base=32, fmap_max=16, mbstd_group_size=mbstd_group_size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = CelebAHQClassifierSet(list(attributes), [CelebAHQNetwork(config) for _ in attributes])
    return save_classifier_set(classifier, path)
