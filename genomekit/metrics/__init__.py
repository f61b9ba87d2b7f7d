"""Image-quality and disentanglement metrics.

* Fréchet distances from summable ``FeatureStats``: FID on the standard StyleGAN/TF Inception-v3
  features (``inception``), FD_cls on classifier-set features, KID (``fid``, ``kid``).
* StyleGAN's linear separability (``separability``).
* MIG, SAP and DCI on classifier pseudo-labels (``disentanglement``).
"""

from genomekit.metrics.disentanglement import DCIResult, dci, discretize, mig, mutual_information_matrix, sap
from genomekit.metrics.fid import ClassifierFeatures, FIDResult, compute_fid, dataset_content_hash, default_cache_dir
from genomekit.metrics.frechet import FeatureStats, frechet_distance, frechet_distance_from_stats
from genomekit.metrics.inception import InceptionFeatures, find_inception_file, load_inception, tf_bilinear_resize
from genomekit.metrics.kid import kernel_inception_distance
from genomekit.metrics.separability import SeparabilityResult, conditional_entropy, linear_separability

__all__ = [
    "ClassifierFeatures",
    "DCIResult",
    "FIDResult",
    "FeatureStats",
    "InceptionFeatures",
    "SeparabilityResult",
    "compute_fid",
    "conditional_entropy",
    "dataset_content_hash",
    "dci",
    "default_cache_dir",
    "discretize",
    "find_inception_file",
    "frechet_distance",
    "frechet_distance_from_stats",
    "kernel_inception_distance",
    "linear_separability",
    "load_inception",
    "mig",
    "mutual_information_matrix",
    "sap",
    "tf_bilinear_resize",
]
