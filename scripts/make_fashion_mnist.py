"""Convert Fashion-MNIST (the IDX files) into a StyleGAN-layout zip that genomekit trains on.

The images are padded from 28 to 32 px with black, repeated into RGB, and labelled with the ten
classes as ten one-hot attributes (T-shirt/top, Trouser, ...), so classifier sets, statistics and
`genomekit sample --attr Trouser` work on them as on faces. Train and test splits are joined
(70,000 images) unless --split says otherwise.

The files come, for example, from Debian's ``dataset-fashion-mnist`` package::

    apt-get download dataset-fashion-mnist && dpkg-deb -x dataset-fashion-mnist_*.deb fm
    python scripts/make_fashion_mnist.py --idx fm/usr/share/datasets/fashion-mnist --out fmnist32.zip
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np

from genomekit.data.export import encode_png, image_name, zip_dataset_writer

CLASSES = ("Tshirt_Top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_Boot")
SPLITS = {"train": ("train",), "test": ("t10k",), "all": ("train", "t10k")}


def _read_idx(path: Path) -> np.ndarray:
    """An IDX array (gzipped or not): magic 0x08 (uint8), the rank, big-endian dims, then the data."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not a uint8 IDX file")
    rank = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} values for dims {dims}")
    return data.reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder} has no {stem}[.gz]")


def load(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 images and (N,) int labels of ``split``."""
    images, labels = [], []
    for prefix in SPLITS[split]:
        images.append(_read_idx(_find(folder, f"{prefix}-images-idx3-ubyte")))
        labels.append(_read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte")))
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def to_rgb32(image: np.ndarray) -> np.ndarray:
    """A 28x28 grey image padded to 32x32 with black, as (32, 32, 3)."""
    padded = np.pad(image, 2)
    return np.repeat(padded[:, :, None], 3, axis=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idx", type=Path, required=True, help="folder with the four IDX files")
    parser.add_argument("--out", type=Path, required=True, help="the .zip to write")
    parser.add_argument("--split", choices=sorted(SPLITS), default="all")
    args = parser.parse_args(argv)
    try:
        images, labels = load(args.idx, args.split)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if len(images) != len(labels):
        print(f"error: {len(images)} images but {len(labels)} labels", file=sys.stderr)
        return 2
    if images.shape[1:] != (28, 28) or labels.min(initial=0) < 0 or labels.max(initial=0) >= len(CLASSES):
        print(f"error: expected 28x28 images and labels 0-9, got {images.shape[1:]} and "
              f"{labels.min(initial=0)}-{labels.max(initial=0)}", file=sys.stderr)  # fmt: skip
        return 2
    onehot = np.eye(len(CLASSES), dtype=np.int64)[labels]
    with zip_dataset_writer(args.out, CLASSES, extra={"source": "Fashion-MNIST, padded 28 -> 32 px"}) as writer:
        for i, (image, label) in enumerate(zip(images, onehot, strict=True)):
            writer.add(image_name(i), encode_png(to_rgb32(image)), label)
    print(f"wrote {len(images)} images at 32x32 with {len(CLASSES)} class attributes to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
