"""Attribute classifiers: one interface (``ClassifierSet``) for every set of binary attribute classifiers.

* ``ClassifierSet``: images (B, 3, H, W) in [-1, 1], any square size -> probabilities (B, A);
  ``attribute_names``, ``resolution``, ``features`` (B, F), ``logits`` (B, A), ``identity``.
* ``load_classifier_set(path)``: a saved set (classifier.safetensors + classifier.json), a directory
  of StyleGAN CelebA-HQ classifier state dicts, or ``"default"`` (the set shipped for synthetic faces).
  CelebA-HQ sets come back as ``BatchedCelebAHQ``: all networks in one grouped pass (``batched=False``
  for the plain ``CelebAHQClassifierSet``, one network after another; same weights and identity).
* ``train_classifier_set`` / ``evaluate_classifier_set``: the multi-head CNN, trained with BCE.
* ``resolve_attributes``: case- and punctuation-insensitive attribute names with suggestions.
"""

from classifiers.attributes import (
    UnknownAttributeError,
    attribute_indices,
    match_attribute_columns,
    normalize_attribute_name,
    resolve_attribute,
    resolve_attributes,
)
from classifiers.augment import AugmentConfig
from classifiers.base import ClassifierSet, InputShapeError
from classifiers.celebahq import CelebAHQClassifierSet, CelebAHQConfig, CelebAHQNetwork, load_celebahq_directory
from classifiers.celebahq_batched import BatchedCelebAHQ
from classifiers.evaluate import EvaluationReport, attribute_metrics, binary_auc, evaluate_classifier_set
from classifiers.multihead import MultiHeadClassifierSet, MultiHeadConfig
from classifiers.saved import (
    ClassifierLoadError,
    default_classifier_path,
    load_classifier_set,
    read_classifier_info,
    save_classifier_set,
)
from classifiers.train import TrainConfig, TrainResult, train_classifier_set

__all__ = [
    "AugmentConfig",
    "BatchedCelebAHQ",
    "CelebAHQClassifierSet",
    "CelebAHQConfig",
    "CelebAHQNetwork",
    "ClassifierLoadError",
    "ClassifierSet",
    "EvaluationReport",
    "InputShapeError",
    "MultiHeadClassifierSet",
    "MultiHeadConfig",
    "TrainConfig",
    "TrainResult",
    "UnknownAttributeError",
    "attribute_indices",
    "attribute_metrics",
    "binary_auc",
    "default_classifier_path",
    "evaluate_classifier_set",
    "load_celebahq_directory",
    "load_classifier_set",
    "match_attribute_columns",
    "normalize_attribute_name",
    "read_classifier_info",
    "resolve_attribute",
    "resolve_attributes",
    "save_classifier_set",
    "train_classifier_set",
]
