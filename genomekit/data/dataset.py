"""Image datasets in the StyleGAN layout: a folder or a zip of images with an optional ``dataset.json``.

``dataset.json`` (optional, at the root) holds labels::

    {"attribute_names": ["Bald", "Smiling", ...],      # genomekit extension, A names
     "labels": [["00000/img00000000.png", [0, 1, ...]], ...]}

StyleGAN's own class labels (``["name.png", 3]``, as NVlabs' ``dataset_tool.py`` writes them) become one
attribute per class, one-hot: ``class_0`` ... ``class_{K-1}``, or the ``attribute_names`` when there
are K of them.
Images are returned as uint8 tensors ``(C, H, W)``; labels as float32 ``(A,)`` in {0, 1}.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genomekit.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class DatasetError(UserError, ValueError):
    """A dataset that cannot be used as given; the message says what is wrong and what is accepted."""


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset holds, for `genomekit data info` and checks before training."""

    path: str
    count: int
    resolution: int
    num_channels: int
    attribute_names: tuple[str, ...]
    label_frequencies: tuple[float, ...]  # (A,) fraction of images with each attribute


class ImageDataset(torch.utils.data.Dataset):
    """Square images of one size from a folder or a zip, with optional per-image attribute labels.

    Args:
        path: a folder or a ``.zip`` in the StyleGAN layout.
        names: image paths relative to the root, in dataset order.
        labels: (N, A) float32 labels in {0, 1}, or None.
        attribute_names: the A label names.
    """

    def __init__(
        self,
        path: Path,
        names: Sequence[str],
        labels: np.ndarray | None,
        attribute_names: Sequence[str],
    ) -> None:
        self.path = Path(path)
        self.names = list(names)
        self.labels = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.float32))
        self.attribute_names = tuple(attribute_names)
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid = -1
        first = self._read(0)
        if first.shape[1] != first.shape[2]:
            raise DatasetError(f"{self.path}: images must be square, {self.names[0]} is {_size(first)}")
        self.num_channels, self.resolution = first.shape[0], first.shape[1]

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> torch.Tensor:
        """The image at ``index`` as uint8 ``(C, H, W)``."""
        image = self._read(index)
        if image.shape[0] != self.num_channels or image.shape[1:] != (self.resolution, self.resolution):
            raise DatasetError(
                f"{self.path}: {self.names[index]} is {_size(image)}, but the dataset's images are "
                f"{self.resolution}x{self.resolution} with {self.num_channels} channels; "
                "all images must have the same size"
            )
        return image

    def label(self, index: int) -> torch.Tensor:
        """Labels of image ``index``, float32 ``(A,)``; raises DatasetError when the dataset has none."""
        if self.labels is None:
            raise DatasetError(f"{self.path} has no labels (no dataset.json with 'labels')")
        return self.labels[index]

    def check_sizes(self) -> None:
        """Read every image header and raise DatasetError on the first that is unreadable or of another size."""
        for index, name in enumerate(self.names):
            try:
                with self._open(index) as f, Image.open(f) as img:
                    width, height = img.size
                    channels = 1 if img.mode == "L" else 3
            except (OSError, UnidentifiedImageError, KeyError, zipfile.BadZipFile) as error:
                raise DatasetError(f"{self.path}: cannot read image {name}: {_reason(error)}") from None
            if channels != self.num_channels:
                raise DatasetError(
                    f"{self.path}: {name} has {channels} channel(s), but the dataset's images have "
                    f"{self.num_channels}; convert all images to RGB (or all to grayscale)"
                )
            if (width, height) != (self.resolution, self.resolution):
                raise DatasetError(
                    f"{self.path}: {name} is {width}x{height}, but the dataset's images are "
                    f"{self.resolution}x{self.resolution}; all images must have the same size"
                )

    def info(self) -> DatasetInfo:
        """Count, resolution, attribute names and label frequencies."""
        freqs = () if self.labels is None else tuple(self.labels.mean(0).tolist())
        return DatasetInfo(
            path=str(self.path),
            count=len(self),
            resolution=self.resolution,
            num_channels=self.num_channels,
            attribute_names=self.attribute_names,
            label_frequencies=freqs,
        )

    # -- file access -------------------------------------------------------------------------------

    def _open(self, index: int) -> io.BytesIO:
        name = self.names[index]
        if self.path.is_dir():
            return io.BytesIO((self.path / name).read_bytes())
        # One handle per process: a handle inherited through fork shares its file offset with the
        # parent's, and concurrent reads then fail with "Bad CRC-32" in DataLoader workers.
        if self._zip is None or self._zip_pid != os.getpid():
            self._zip = zipfile.ZipFile(self.path)
            self._zip_pid = os.getpid()
        return io.BytesIO(self._zip.read(name))

    def _read(self, index: int) -> torch.Tensor:
        try:
            with self._open(index) as f, Image.open(f) as img:
                img = img.convert("RGB") if img.mode not in ("RGB", "L") else img
                array = np.asarray(img, dtype=np.uint8)
        except (OSError, UnidentifiedImageError, KeyError, zipfile.BadZipFile) as error:
            raise DatasetError(f"{self.path}: cannot read image {self.names[index]}: {_reason(error)}") from None
        if array.ndim == 2:
            array = array[:, :, None]
        return torch.from_numpy(array.copy()).permute(2, 0, 1)  # (C, H, W)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_zip"] = None  # zip handles do not cross process boundaries
        return state


def _reason(error: Exception) -> str:
    """Why an image could not be read, without PIL's ``<_io.BytesIO object at 0x...>``."""
    if isinstance(error, UnidentifiedImageError):
        return "not an image file PIL can read (truncated or another format)"
    if isinstance(error, KeyError):
        return "listed but missing from the zip"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error)


def _size(image: torch.Tensor) -> str:
    return f"{image.shape[2]}x{image.shape[1]}"


def _list_images(path: Path) -> tuple[list[str], bytes | None]:
    """Image names (sorted, relative, '/'-separated) and the raw dataset.json, if any."""
    if path.is_dir():
        names = sorted(
            p.relative_to(path).as_posix()
            for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        meta = path / "dataset.json"
        return names, (meta.read_bytes() if meta.is_file() else None)
    try:
        with zipfile.ZipFile(path) as archive:
            all_names = archive.namelist()
            names = sorted(n for n in all_names if Path(n).suffix.lower() in IMAGE_EXTENSIONS)
            meta = archive.read("dataset.json") if "dataset.json" in all_names else None
    except zipfile.BadZipFile:
        raise DatasetError(f"{path} is not a readable zip file") from None
    return names, meta


def _parse_labels(path: Path, meta: bytes, names: list[str]) -> tuple[np.ndarray | None, list[str]]:
    try:
        doc = json.loads(meta)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: dataset.json is not valid JSON ({error})") from None
    entries = doc.get("labels") if isinstance(doc, dict) else None
    if entries is None:
        return None, []
    malformed = DatasetError(
        f"{path}: dataset.json 'labels' must be a list of [image name, label] pairs, "
        'e.g. [["00000/img00000000.png", [0, 1, ...]], ...]'
    )
    if not isinstance(entries, list) or not all(isinstance(e, list | tuple) and len(e) == 2 for e in entries):
        raise malformed
    table = {str(name): value for name, value in entries}
    missing = [n for n in names if n not in table]
    if missing:
        raise DatasetError(
            f"{path}: dataset.json has no labels for {len(missing)} of {len(names)} images "
            f"(first: {missing[0]}); label every image or remove 'labels'"
        )
    values = [table[n] for n in names]
    if all(isinstance(v, int | float) for v in values):  # StyleGAN class labels
        return _one_hot_classes(path, values, doc.get("attribute_names") or [])
    if not all(isinstance(v, list) and all(isinstance(x, int | float) for x in v) for v in values):
        raise malformed
    lengths = {len(v) for v in values}
    if len(lengths) != 1:
        raise DatasetError(
            f"{path}: dataset.json labels have different lengths {sorted(lengths)}; "
            "every label must be a list with one value per attribute"
        )
    labels = np.asarray(values, dtype=np.float32)
    attribute_names = [str(a) for a in doc.get("attribute_names") or []] or [
        f"attr_{i}" for i in range(labels.shape[1])
    ]
    if labels.ndim != 2 or labels.shape[1] != len(attribute_names):
        raise DatasetError(
            f"{path}: dataset.json labels have shape {labels.shape} but {len(attribute_names)} "
            "attribute names; every label must be a list with one value per attribute"
        )
    return labels, attribute_names


def _one_hot_classes(path: Path, values: list, names: list) -> tuple[np.ndarray, list[str]]:
    """StyleGAN's integer class labels as K one-hot attributes (K = the largest class + 1)."""
    classes = np.asarray(values, dtype=np.float64)
    if (classes < 0).any() or (classes != np.round(classes)).any():
        raise DatasetError(f"{path}: dataset.json class labels must be integers >= 0")
    count = int(classes.max()) + 1
    if names and len(names) != count:
        raise DatasetError(
            f"{path}: dataset.json has {len(names)} attribute names for {count} classes (0..{count - 1})"
        )
    labels = np.eye(count, dtype=np.float32)[classes.astype(np.int64)]
    return labels, [str(n) for n in names] or [f"class_{k}" for k in range(count)]


def open_dataset(path: str | Path, resolution: int | None = None) -> ImageDataset:
    """Open an image folder or zip in the StyleGAN layout, or a folder in the CelebA layout.

    A folder holding ``list_attr_celeba.txt`` is read as CelebA (see
    :func:`genomekit.data.celeba.open_celeba`): images are center-cropped to squares and, with
    ``resolution``, resized; the labels are the 40 CelebA attributes.

    Args:
        path: a folder or ``.zip``.
        resolution: the side the images must have; CelebA images are resized to it, other
            datasets must already be that size.

    Raises:
        DatasetError: missing path, not a folder or zip, no images, unreadable first image,
            non-square images, malformed labels, or images not of ``resolution``.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset not found: {path} (give an image folder, a .zip or a CelebA folder)")
    if path.is_dir():
        from genomekit.data.celeba import is_celeba_layout, open_celeba  # celeba imports this module

        if is_celeba_layout(path):
            return open_celeba(path, resolution)
    elif not zipfile.is_zipfile(path):
        raise DatasetError(f"{path} is neither a folder nor a zip file of images")
    names, meta = _list_images(path)
    if not names:
        raise DatasetError(
            f"{path} holds no images ({', '.join(IMAGE_EXTENSIONS)}) and is not a CelebA folder "
            "(list_attr_celeba.txt with img_align_celeba/)"
        )
    labels, attribute_names = (None, []) if meta is None else _parse_labels(path, meta, names)
    dataset = ImageDataset(path, names, labels, attribute_names)
    if resolution is not None and dataset.resolution != resolution:
        raise DatasetError(
            f"{path} holds {dataset.resolution}x{dataset.resolution} images but {resolution}x{resolution} were "
            f"asked for (--resolution {resolution}); use --resolution {dataset.resolution} or rebuild the dataset "
            "at that size (only CelebA folders are resized on reading)"
        )
    return dataset


def format_info(info: DatasetInfo) -> str:
    """A readable table of a dataset's size, resolution and label frequencies (attribute order)."""
    lines = [
        f"path        {info.path}",
        f"images      {info.count}",
        f"resolution  {info.resolution}x{info.resolution}, {info.num_channels} channel(s)",
        f"attributes  {len(info.attribute_names) or 'none (unlabelled)'}",
    ]
    if info.attribute_names:
        width = max(len("attribute"), *(len(n) for n in info.attribute_names))
        lines += ["", f"{'attribute':<{width}}  frequency", f"{'-' * width}  ---------"]
        for name, freq in zip(info.attribute_names, info.label_frequencies, strict=True):
            bar = "#" * round(freq * 20) if 0 <= freq <= 1 else ""
            lines.append(f"{name:<{width}}  {freq:9.4f}  {bar}")
    return "\n".join(lines)
