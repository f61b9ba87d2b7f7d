"""Tiny labelled datasets whose attributes are easy by construction, written to tmp_path."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ATTRIBUTES = ["Bright_Square", "Red_Background", "Bottom_Bar"]


def render(rng: np.random.Generator, resolution: int) -> tuple[np.ndarray, list[int]]:
    """A noisy image with three independent attributes: a bright top-left square, a red (vs blue)
    background, a dark bar along the bottom."""
    labels = [int(rng.random() < 0.5) for _ in ATTRIBUTES]
    image = np.zeros((resolution, resolution, 3), dtype=np.float32)
    image[:] = (170, 40, 40) if labels[1] else (40, 40, 170)
    q = resolution // 4
    if labels[0]:
        image[1 : 1 + q, 1 : 1 + q] = 250
    if labels[2]:
        image[-q // 2 - 1 : -1, 2:-2] = 0
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), labels


def make_dataset(
    path: Path,
    count: int = 64,
    resolution: int = 16,
    seed: int = 0,
    *,
    as_zip: bool = False,
    attribute_names: list[str] | None = None,
) -> Path:
    """Write ``count`` PNGs + dataset.json as a folder (or a .zip) in the StyleGAN layout."""
    rng = np.random.default_rng(seed)
    files, labels = {}, []
    for index in range(count):
        image, label = render(rng, resolution)
        name = f"00000/img{index:08d}.png"
        buffer = __import__("io").BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        files[name] = buffer.getvalue()
        labels.append([name, label])
    meta = json.dumps({"attribute_names": attribute_names or ATTRIBUTES, "labels": labels}).encode()
    if as_zip:
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in files.items():
                archive.writestr(name, data)
            archive.writestr("dataset.json", meta)
        return path
    path.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    (path / "dataset.json").write_bytes(meta)
    return path


@pytest.fixture(scope="session")
def easy_train(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("easy") / "train.zip", count=400, resolution=16, seed=1, as_zip=True)


@pytest.fixture(scope="session")
def easy_test(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("easy") / "test", count=200, resolution=16, seed=2)


@pytest.fixture(scope="session")
def trained_set(easy_train, tmp_path_factory):
    """A small multi-head set trained for a few seconds on the easy dataset, saved to disk."""
    from classifiers import AugmentConfig, MultiHeadConfig, TrainConfig, train_classifier_set

    out = tmp_path_factory.mktemp("trained") / "set"
    config = TrainConfig(
        architecture=MultiHeadConfig(resolution=16, stem_channels=8, channels=(8, 16)),
        augment=AugmentConfig(resample_probability=0.0, max_shift=0.03),
        epochs=12,
        batch_size=32,
        learning_rate=1e-2,
        warmup_steps=10,
        val_fraction=0.15,
        patience=12,
        seed=0,
    )
    return train_classifier_set(easy_train, config, out=out, progress=False)
