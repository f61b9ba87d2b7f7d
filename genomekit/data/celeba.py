"""The 40 CelebA attribute names and a reader for the CelebA folder layout.

The CelebA layout is a folder holding ``list_attr_celeba.txt`` and the images, either directly or in
``img_align_celeba/``. The labels file is the official one::

    202599                                   # number of images
    5_o_Clock_Shadow Arched_Eyebrows ...     # the 40 attribute names
    000001.jpg -1  1  1 -1 ...               # one row per image, +1 / -1

CelebA's aligned images are 178x218; :func:`open_celeba` center-crops them to a square and, when
given a ``resolution``, resizes that square (Lanczos), because :class:`ImageDataset` holds square images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genomekit.data.dataset import DatasetError, ImageDataset

CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)

LABELS_FILE = "list_attr_celeba.txt"
IMAGE_FOLDERS = ("img_align_celeba", "img_celeba", "images", ".")


def is_celeba_layout(path: str | Path) -> bool:
    """Whether ``path`` is a CelebA folder: it holds ``list_attr_celeba.txt`` or ``img_align_celeba/``.

    A folder with ``img_align_celeba/`` but no labels file is still CelebA, so that
    :func:`open_celeba` can say the labels file is missing.
    """
    path = Path(path)
    return (path / LABELS_FILE).is_file() or (path / IMAGE_FOLDERS[0]).is_dir()


class CelebADataset(ImageDataset):
    """CelebA images, center-cropped to a square and optionally resized, with the 40 labels.

    Args:
        path: the CelebA folder (holding ``list_attr_celeba.txt``).
        image_root: the folder the image names are relative to.
        names: image file names in labels-file order.
        labels: (N, 40) float32 labels in {0, 1}.
        resolution: output side in pixels, or None to keep the center square's own size.
    """

    def __init__(
        self,
        path: Path,
        image_root: Path,
        names: list[str],
        labels: np.ndarray,
        resolution: int | None = None,
    ) -> None:
        self.image_root = Path(image_root)
        self.target_resolution = resolution
        super().__init__(path, names, labels, CELEBA_ATTRIBUTES)

    def _open_image(self, index: int) -> Image.Image:
        file = self.image_root / self.names[index]
        try:
            img = Image.open(file)
            img.load()
        except FileNotFoundError:
            raise DatasetError(
                f"{self.path}: image {self.names[index]} is listed in {LABELS_FILE} but missing from {self.image_root}"
            ) from None
        except OSError as error:
            raise DatasetError(f"{self.path}: cannot read image {self.names[index]}: {error}") from None
        return img

    def _read(self, index: int) -> torch.Tensor:
        img = self._open_image(index).convert("RGB")
        side = min(img.size)  # center crop to the largest square
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side))
        if self.target_resolution is not None and side != self.target_resolution:
            img = img.resize((self.target_resolution,) * 2, Image.Resampling.LANCZOS)
        array = np.asarray(img, dtype=np.uint8)
        return torch.from_numpy(array.copy()).permute(2, 0, 1)  # (C, H, W)

    def check_sizes(self) -> None:
        """Read every image header: raise DatasetError on the first missing or unreadable image.

        Sizes may differ, since every image is cropped and resized on reading.
        """
        for index in range(len(self.names)):
            self._open_image(index).close()


def read_celeba_labels(file: str | Path) -> tuple[list[str], np.ndarray]:
    """Parse ``list_attr_celeba.txt``: image names and (N, 40) float32 labels in {0, 1}."""
    file = Path(file)
    try:
        lines = file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read {file}: {error}") from None
    lines = [line for line in lines if line.strip()]
    if len(lines) < 2:
        raise DatasetError(f"{file}: expected a count line, a header of 40 names, then one row per image")
    header = lines[1].split()
    if tuple(header) != CELEBA_ATTRIBUTES:
        raise DatasetError(
            f"{file}: the header must list the 40 CelebA attributes in the official order "
            f"(5_o_Clock_Shadow ... Young); got {len(header)} names starting {header[:3]}"
        )
    names, rows = [], []
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        values = parts[1:]
        if len(values) != len(CELEBA_ATTRIBUTES) or any(v not in ("1", "-1", "0") for v in values):
            raise DatasetError(
                f"{file} line {number}: expected an image name and 40 values of +1/-1, got {line[:80]!r}"
            )
        names.append(parts[0])
        rows.append([v == "1" for v in values])
    if not names:
        raise DatasetError(f"{file} lists no images")
    return names, np.asarray(rows, dtype=np.float32)


def open_celeba(path: str | Path, resolution: int | None = None) -> CelebADataset:
    """Open a CelebA folder: ``list_attr_celeba.txt`` plus the images (in ``img_align_celeba/``).

    Args:
        path: the folder holding ``list_attr_celeba.txt``.
        resolution: center-crop each image to a square and resize it to this side (e.g. 64);
            None keeps the square's own size (178 for the aligned 178x218 images).

    Raises:
        DatasetError: no such folder, no labels file, a malformed labels file, or no image folder
            holding the first listed image.
    """
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"CelebA folder not found: {path}")
    labels_file = path / LABELS_FILE
    if not labels_file.is_file():
        raise DatasetError(
            f"{path} has no {LABELS_FILE}; the CelebA layout is a folder with {LABELS_FILE} "
            "and the images in img_align_celeba/"
        )
    if resolution is not None and resolution < 1:
        raise DatasetError(f"resolution must be a positive number of pixels, got {resolution}")
    names, labels = read_celeba_labels(labels_file)
    roots = [path / folder for folder in IMAGE_FOLDERS]
    image_root = next((root for root in roots if (root / names[0]).is_file()), None)
    if image_root is None:
        raise DatasetError(
            f"{path}: image {names[0]} (first in {LABELS_FILE}) is in none of "
            f"{', '.join(IMAGE_FOLDERS)}; put the images in {path / IMAGE_FOLDERS[0]}"
        )
    return CelebADataset(path, image_root, names, labels, resolution)
