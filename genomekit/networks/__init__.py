"""Networks: StyleGAN2 synthesis, the mapping-network baseline, the residual discriminator. No file I/O."""

from genomekit.networks.discriminator import Discriminator, DiscriminatorConfig
from genomekit.networks.generator import LATENT_KINDS, Generator, GeneratorConfig
from genomekit.networks.mapping import MappingNetwork
from genomekit.networks.synthesis import SynthesisNetwork

__all__ = [
    "LATENT_KINDS",
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "MappingNetwork",
    "SynthesisNetwork",
]
