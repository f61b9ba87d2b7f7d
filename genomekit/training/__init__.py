"""Training: the StyleGAN2 loop (non-saturating loss, lazy R1, optional path length), augmentation, checkpoints."""

from genomekit.training.checkpoint import (
    CheckpointError,
    export_inference_checkpoint,
    load_discriminator,
    load_generator,
    model_identity,
    save_inference_checkpoint,
)
from genomekit.training.config import CONFIG_ERROR_FIELDS, TrainConfig, config_error_field
from genomekit.training.loop import Distributed, TrainingDiverged, dataset_resolution, train

__all__ = [
    "CONFIG_ERROR_FIELDS",
    "CheckpointError",
    "Distributed",
    "TrainConfig",
    "TrainingDiverged",
    "config_error_field",
    "dataset_resolution",
    "export_inference_checkpoint",
    "load_discriminator",
    "load_generator",
    "model_identity",
    "save_inference_checkpoint",
    "train",
]
