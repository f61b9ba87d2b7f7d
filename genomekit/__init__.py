"""genomekit: StyleGenes GANs (a discrete, learnable Genome as the latent) and the analysis of the genome."""

__version__ = "0.1.0"
