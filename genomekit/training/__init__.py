"""Training: the StyleGAN2 loop (non-saturating loss, lazy R1, optional path length), augmentation, checkpoints."""

from genomekit.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    export_inference_checkpoint,
    load_checkpoint,
    load_discriminator,
    load_generator,
    model_identity,
    save_inference_checkpoint,
)
from genomekit.training.config import (
    CONFIG_ERROR_FIELDS,
    RESUMABLE_FIELDS,
    TrainConfig,
    config_error_field,
    resume_config,
    resume_conflicts,
)
from genomekit.training.loop import (
    Distributed,
    TrainingDiverged,
    TrainingInterrupted,
    dataset_resolution,
    run_config,
    train,
)

__all__ = [
    "CONFIG_ERROR_FIELDS",
    "RESUMABLE_FIELDS",
    "Checkpoint",
    "CheckpointError",
    "Distributed",
    "TrainConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "config_error_field",
    "dataset_resolution",
    "export_inference_checkpoint",
    "load_checkpoint",
    "load_discriminator",
    "load_generator",
    "model_identity",
    "resume_config",
    "resume_conflicts",
    "run_config",
    "save_inference_checkpoint",
    "train",
]
