"""Datasets: image folders and zips with dataset.json labels, CelebA, and procedural synthetic faces."""

from genomekit.data.dataset import DatasetError, DatasetInfo, ImageDataset, open_dataset

__all__ = ["DatasetError", "DatasetInfo", "ImageDataset", "open_dataset"]
