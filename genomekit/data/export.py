"""Write datasets in the StyleGAN layout: a zip of PNGs plus ``dataset.json``, atomically.

The zip is written to a temporary file beside the target and renamed over it only when complete,
so an interrupted run leaves no zip (or the previous one) behind, never a truncated one.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from genomekit.fileio import atomic_path


def image_name(index: int) -> str:
    """StyleGAN's name for image ``index``: 1000 images per folder, ``00000/img00000000.png``."""
    return f"{index // 1000:05d}/img{index:08d}.png"


def encode_png(image: np.ndarray, compress_level: int = 3) -> bytes:
    """PNG bytes of a uint8 (H, W, 3) or (H, W) image."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


class ZipDatasetWriter:
    """Adds images to an open zip and collects their labels for ``dataset.json``.

    Use through :func:`zip_dataset_writer`, which makes the write atomic.
    """

    def __init__(self, archive: zipfile.ZipFile, attribute_names: Sequence[str]) -> None:
        self.archive = archive
        self.attribute_names = list(attribute_names)
        self.labels: list[list[Any]] = []

    def add(self, name: str, png: bytes, labels: np.ndarray | Sequence[float] | None = None) -> None:
        """Store one encoded image; ``labels`` (A,) in {0, 1} when the dataset is labelled."""
        self.archive.writestr(name, png)  # ZIP_STORED: PNG is already compressed
        if labels is not None:
            self.labels.append([name, [int(round(float(v))) for v in labels]])

    def finish(self, extra: dict[str, Any] | None = None) -> None:
        doc: dict[str, Any] = {"attribute_names": self.attribute_names, "labels": self.labels or None}
        doc.update(extra or {})
        self.archive.writestr("dataset.json", json.dumps(doc))


@contextmanager
def zip_dataset_writer(
    out: str | Path, attribute_names: Sequence[str], extra: dict[str, Any] | None = None
) -> Iterator[ZipDatasetWriter]:
    """Open ``out`` for writing a StyleGAN-layout zip; it appears only when the block completes.

    ``extra`` keys (e.g. ``"generator"``) are stored in ``dataset.json`` beside the labels.
    """
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        writer = ZipDatasetWriter(archive, attribute_names)
        yield writer
        writer.finish(extra)
