"""Datasets: image folders and zips with dataset.json labels, CelebA, and procedural synthetic faces."""

from genomekit.data.celeba import CELEBA_ATTRIBUTES, CelebADataset, open_celeba, read_celeba_labels
from genomekit.data.dataset import DatasetError, DatasetInfo, ImageDataset, open_dataset
from genomekit.data.synth_faces import FaceParams, render_face, sample_face, write_synth_faces

__all__ = [
    "CELEBA_ATTRIBUTES",
    "CelebADataset",
    "DatasetError",
    "DatasetInfo",
    "FaceParams",
    "ImageDataset",
    "open_celeba",
    "open_dataset",
    "read_celeba_labels",
    "render_face",
    "sample_face",
    "write_synth_faces",
]
