"""Fréchet distances (FID with Inception features, FD_cls with classifier-set features) and KID.

``compute_fid`` streams the generator's images and the dataset's images through one feature
extractor into summable ``FeatureStats`` and returns the Fréchet distance (and KID on request).
The dataset side is cached under ``cache_dir`` keyed by the dataset's content hash, the extractor's
identity and the number of real images, so a second run only generates.

Extractors take uint8 images (B, 3, H, W); generated images are quantised to uint8 first, as the
dataset's are, so both sides go through the same pre-processing.

``precision`` ("fp32", "bf16", "fp16"; ``genomekit.precision``) autocasts the generator and the
extractor, on both sides; features are float32 and the statistics float64 either way. Cached dataset
statistics are kept per precision (fp32's under the key they always had).

* ``inception``: the standard StyleGAN/TF Inception-v3 pool_3 features (2048): the FID of the papers.
* ``classifier``: the penultimate features of an attribute classifier set: "FD_cls", a fast offline
  check of the same form. Its values are NOT comparable to FID.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from genomekit.fileio import atomic_path, file_sha256
from genomekit.metrics.frechet import FeatureStats, frechet_distance_from_stats
from genomekit.metrics.generate import generate, module_device, sample_codes
from genomekit.metrics.inception import to_uint8
from genomekit.metrics.kid import kernel_inception_distance
from genomekit.precision import autocast

log = logging.getLogger(__name__)

__all__ = [
    "ClassifierFeatures",
    "FIDResult",
    "compute_fid",
    "dataset_content_hash",
    "default_cache_dir",
    "generated_features",
    "real_features",
]


class ClassifierFeatures(nn.Module):
    """uint8 images (B, 3, H, W) -> a classifier set's penultimate features (B, F): for FD_cls."""

    name = "classifier"

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier.eval()

    @property
    def identity(self) -> str:
        return f"classifier-{self.classifier.identity}"

    @torch.inference_mode()
    def forward(self, images: Tensor) -> Tensor:
        if images.dtype != torch.uint8:
            raise ValueError(f"images must be uint8 in [0, 255], got {images.dtype}")
        return self.classifier.features(images.float() / 127.5 - 1).float()


@dataclass(frozen=True)
class FIDResult:
    metric: str  # "FID" (Inception) or "FD_cls" (classifier features; not comparable to FID)
    distance: float
    kid: float | None  # KID x 1 (StyleGAN reports KID x 10^3), None when not requested
    num_fake: int
    num_real: int
    extractor: str  # the feature extractor's identity
    real_cached: bool  # the dataset's statistics came from the cache
    seconds: float
    precision: str = "fp32"  # arithmetic of the generator and the extractor (genomekit.precision)

    def format(self) -> str:
        line = f"{self.metric} {self.distance:.4f}  ({self.num_fake} generated vs {self.num_real} real images"
        line += f", features {self.extractor}"
        line += f"{f', {self.precision}' if self.precision != 'fp32' else ''}"
        line += f"{', dataset statistics cached' if self.real_cached else ''})"
        if self.kid is not None:
            name = "KID" if self.metric == "FID" else "KID_cls"
            line += f"\n{name} {self.kid:.6f}  (x10^3: {self.kid * 1e3:.3f})"
        if self.metric != "FID":
            line += (
                "\nnote: FD_cls (and KID_cls) use classifier-set features: a quick offline check, NOT comparable to FID"
            )
        return line


def default_cache_dir() -> Path:
    """``~/.cache/genomekit/fid``: where dataset feature statistics are cached unless told otherwise."""
    return Path.home() / ".cache" / "genomekit" / "fid"


def dataset_content_hash(dataset) -> str:
    """sha256 (hex) of what a dataset's images are made of.

    A zip: the whole file's bytes. A folder: every image's name, size and bytes, in dataset order.
    The dataset class and resolution are included (a CelebA folder is resized on reading).
    """
    header = f"{type(dataset).__name__}:{dataset.resolution}:{len(dataset)}\n".encode()
    path = Path(dataset.path)
    if path.is_file():
        return file_sha256(path, prefix=header)
    digest = hashlib.sha256(header)
    root = Path(getattr(dataset, "image_root", path))
    for name in dataset.names:
        data = (root / name).read_bytes()
        digest.update(f"{name}:{len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()


def _dataset_batches(dataset, num: int, batch_size: int) -> Iterator[Tensor]:
    for start in range(0, num, batch_size):
        images = torch.stack([dataset[i] for i in range(start, min(num, start + batch_size))])  # (B, C, H, W)
        yield images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def _accumulate(
    batches: Iterator[Tensor],
    extractor: Callable[[Tensor], Tensor],
    keep: bool,
    progress: Callable[[int], None],
    precision: str = "fp32",
) -> tuple[FeatureStats | None, list[Tensor]]:
    stats, kept = None, []
    device = module_device(extractor) if isinstance(extractor, nn.Module) else torch.device("cpu")
    for images in batches:
        with autocast(precision, device):
            features = extractor(images).float().cpu()  # (B, F)
        batch_stats = FeatureStats.from_features(features)
        stats = batch_stats if stats is None else stats + batch_stats
        if keep:
            kept.append(features)
        progress(len(images))
    return stats, kept


@torch.no_grad()
def image_feature_stats(images: Tensor, extractor: Callable[[Tensor], Tensor], batch_size: int = 32) -> FeatureStats:
    """Feature statistics of images already in memory, (N, 3, H, W) in [-1, 1], in batches."""
    batches = (to_uint8(images[i : i + batch_size]) for i in range(0, len(images), batch_size))
    stats, _ = _accumulate(batches, extractor, False, lambda n: None)
    if stats is None:
        raise ValueError("images must not be empty")
    return stats


def real_features(
    dataset,
    extractor: nn.Module,
    *,
    num: int | None = None,
    batch_size: int = 32,
    cache_dir: Path | None = None,
    keep_features: bool = False,
    progress: Callable[[int], None] = lambda n: None,
    precision: str = "fp32",
) -> tuple[FeatureStats, Tensor | None, bool]:
    """Feature statistics of the first ``num`` dataset images (all when None), cached when possible.

    Returns:
        stats, the features (N, F) when ``keep_features`` (for KID) else None, and whether the
        result came from the cache.
    """
    num = len(dataset) if num is None else min(num, len(dataset))
    key = None
    if cache_dir is not None:
        key = f"{dataset_content_hash(dataset)[:24]}-{extractor.identity}-n{num}"
        key += f"-{precision}" if precision != "fp32" else ""
        stats_file, features_file = Path(cache_dir) / f"{key}.npz", Path(cache_dir) / f"{key}-features.npy"
        if stats_file.is_file() and (not keep_features or features_file.is_file()):
            log.info("dataset statistics from the cache: %s", stats_file)
            features = torch.from_numpy(np.load(features_file)) if keep_features else None
            return FeatureStats.load(stats_file), features, True
    batches = _dataset_batches(dataset, num, batch_size)
    stats, kept = _accumulate(batches, extractor, keep_features, progress, precision)
    if stats is None:
        raise ValueError("the dataset has no images")
    features = torch.cat(kept) if keep_features else None
    if key is not None:
        stats.save(stats_file)
        if features is not None:
            with atomic_path(features_file) as tmp, open(tmp, "wb") as f:
                np.save(f, features.numpy())
    return stats, features, False


def generated_features(
    generator_model: nn.Module,
    extractor: nn.Module,
    *,
    num: int,
    seed: int = 0,
    batch_size: int = 32,
    keep_features: bool = False,
    progress: Callable[[int], None] = lambda n: None,
    precision: str = "fp32",
) -> tuple[FeatureStats, Tensor | None]:
    """Feature statistics of ``num`` generated images (the seed's code stream, constant noise)."""
    batches = (
        to_uint8(generate(generator_model, codes, precision))
        for codes in sample_codes(generator_model, num, seed, batch_size)
    )
    stats, kept = _accumulate(batches, extractor, keep_features, progress, precision)
    if stats is None:
        raise ValueError("num must be at least 1")
    return stats, (torch.cat(kept) if keep_features else None)


def compute_fid(
    generator_model: nn.Module,
    dataset,
    extractor: nn.Module,
    *,
    num: int,
    num_real: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
    kid: bool = False,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] = lambda n: None,
    precision: str = "fp32",
) -> FIDResult:
    """Fréchet distance (and KID) between ``num`` generated images and the dataset's images.

    Steps: 1. dataset features (from the cache, or computed and cached); 2. generated features;
    3. Fréchet distance of the two Gaussians; 4. KID on the kept features when asked.
    The metric is "FID" for the Inception extractor, else "FD_cls". ``precision`` autocasts the
    generator and the extractor (``genomekit.precision``); fp16 needs CUDA (``check_precision``).
    """
    if num < 2:
        raise ValueError(f"num must be at least 2 for a covariance, got {num}")
    start = time.perf_counter()
    real_stats, real, cached = real_features(
        dataset,
        extractor,
        num=num_real,
        batch_size=batch_size,
        cache_dir=cache_dir,
        keep_features=kid,
        progress=progress,
        precision=precision,
    )
    fake_stats, fake = generated_features(
        generator_model,
        extractor,
        num=num,
        seed=seed,
        batch_size=batch_size,
        keep_features=kid,
        progress=progress,
        precision=precision,
    )
    distance = frechet_distance_from_stats(real_stats, fake_stats)
    kid_value = None
    if kid:
        kid_value = kernel_inception_distance(
            real, fake, num_subsets=kid_subsets, max_subset_size=kid_subset_size, generator=np.random.default_rng(seed)
        )
    return FIDResult(
        metric="FID" if getattr(extractor, "name", "") == "inception" else "FD_cls",
        distance=distance,
        kid=kid_value,
        num_fake=fake_stats.count,
        num_real=real_stats.count,
        extractor=extractor.identity,
        real_cached=cached,
        seconds=time.perf_counter() - start,
        precision=precision,
    )
