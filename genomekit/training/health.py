"""Health of a training run, measured at every snapshot (written into metrics.jsonl).

Two groups of figures:

* **The genome** (Genome models only; cheap, from the weights): each gene's *variant spread* (the standard
  deviation of its variants' entries about their mean: 1 at initialisation) and its *share of the style variance*: under uniform
  sampling the genes are independent, so the variance of every style (the affine of a synthesis
  layer applied to w) is the sum of one term per gene, ``trace(A_i C_i A_i^T)`` with ``A_i`` the
  affine's columns that read gene i and ``C_i`` the covariance of gene i's variants. Summed over all
  affine layers, the shares say how much of what modulates the synthesis each gene carries; the top
  gene's share is the collapse into one gene of issue 13 (32.5% on the first shipped model).
* **The samples** (any model, given a classifier set): ``samples`` images of G_ema against cached
  statistics of as many real images, on the classifier set's features and probabilities:
  ``fd_cls`` (Fréchet distance), ``diversity`` (mean pairwise feature distance of the samples over
  that of the reals: far below 1 is mode collapse), and per attribute the share of samples and of
  reals that show it (p > 0.5), with the largest gap (``freq_gap``, ``freq_gap_attribute``).

Everything is a function of the weights and fixed seeds, so a resumed run writes the same figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from genomekit.networks import Generator
from genomekit.networks.layers import EqualizedLinear

if TYPE_CHECKING:
    import pandas as pd

GAP_TARGET = 0.08  # issue 13's bar: an attribute's sample frequency within this of the data's
HEALTH_SEED = 0x5EED  # the codes of every snapshot's health samples
PAIRWISE = 512  # samples whose pairwise distances measure diversity


@torch.no_grad()
def genome_health(G: Generator) -> dict[str, Any]:
    """Per-gene variant spread and share of the style variance, and the top gene's share (Genome only)."""
    genes = G.latent.genes.detach().to(torch.float64)  # (G, V, D)
    num_genes, _, length = genes.shape
    centred = genes - genes.mean(dim=1, keepdim=True)
    spread = centred.square().mean(dim=(1, 2)).sqrt()  # (G,) per-entry std of the variants (1 at init)
    covariance = torch.einsum("gvd,gve->gde", centred, centred) / genes.shape[1]  # (G, D, D)
    variance = torch.zeros(num_genes, dtype=torch.float64)
    for affine in _style_affines(G):
        weight = (affine.weight.detach().to(torch.float64) * affine.weight_gain).reshape(-1, num_genes, length)
        variance += torch.einsum("ogd,gde,oge->g", weight, covariance, weight)  # trace(A_i C_i A_i^T)
    share = variance / variance.sum().clamp(min=1e-300)
    top = int(share.argmax())
    return {
        "gene_spread": [round(float(v), 5) for v in spread],
        "gene_style_share": [round(float(v), 5) for v in share],
        "top_gene": top,
        "top_gene_share": float(share[top]),
    }


def _style_affines(G: Generator) -> list[EqualizedLinear]:
    return [m.affine for m in G.synthesis.modules() if isinstance(getattr(m, "affine", None), EqualizedLinear)]


@dataclasses.dataclass(frozen=True)
class Reference:
    """Classifier-set statistics of real images: what every snapshot's samples are compared with."""

    mean: np.ndarray  # (F,)
    covariance: np.ndarray  # (F, F)
    frequencies: np.ndarray  # (A,) share of images with p > 0.5
    pairwise: float  # mean pairwise feature distance of the first PAIRWISE images
    count: int

    def save(self, path: Path) -> None:
        from genomekit.fileio import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **{k: np.asarray(v) for k, v in dataclasses.asdict(self).items()})

    @classmethod
    def load(cls, path: Path) -> Reference:
        with np.load(path) as data:
            return cls(
                mean=data["mean"],
                covariance=data["covariance"],
                frequencies=data["frequencies"],
                pairwise=float(data["pairwise"]),
                count=int(data["count"]),
            )


def _summaries(probabilities: Tensor, features: Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    feats = features.to(torch.float64).numpy()
    head = features[:PAIRWISE].to(torch.float64)
    pairwise = float(torch.pdist(head).mean()) if len(head) > 1 else 0.0
    return feats.mean(0), np.cov(feats, rowvar=False), (probabilities > 0.5).double().mean(0).numpy(), pairwise


def _score(classifiers, images: Tensor, batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """Probabilities (N, A) and features (N, F) of images in [-1, 1]; grayscale is repeated to RGB."""
    from genomekit.inference import score

    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return score(classifiers, images, batch_size)


@torch.no_grad()
def real_reference(
    dataset, classifiers, samples: int, batch_size: int = 256, on_batch: Callable[[int], object] | None = None
) -> Reference:
    """Statistics of the first ``samples`` images of ``dataset`` (in order) under ``classifiers``;
    ``on_batch(n)`` after each batch of n images."""
    count = min(samples, len(dataset))
    parts = []  # a batch of images in memory at a time (1,024 at 256 px would be 0.8 GB)
    for start in range(0, count, batch_size):
        indices = range(start, min(start + batch_size, count))
        parts.append(_score(classifiers, torch.stack([dataset[i] for i in indices]) / 127.5 - 1))
        if on_batch is not None:
            on_batch(len(indices))
    probs, feats = torch.cat([p for p, _ in parts]), torch.cat([f for _, f in parts])
    mean, covariance, frequencies, pairwise = _summaries(probs, feats)
    return Reference(mean=mean, covariance=covariance, frequencies=frequencies, pairwise=pairwise, count=count)


def cached_reference(
    cache: Path | None,
    dataset,
    classifiers,
    samples: int,
    batch_size: int = 256,
    on_batch: Callable[[int], object] | None = None,
) -> tuple[Reference, bool]:
    """``real_reference``, read from the file ``cache`` when it exists, else computed and saved there
    (unless ``cache`` is None); and whether it came from the file."""
    if cache is not None and cache.is_file():
        return Reference.load(cache), True
    reference = real_reference(dataset, classifiers, samples, batch_size=batch_size, on_batch=on_batch)
    if cache is not None:
        reference.save(cache)
    return reference, False


@torch.no_grad()
def sample_health(
    G: Generator,
    classifiers,
    reference: Reference,
    attributes: tuple[str, ...],
    batch_size: int = 128,
    seed: int = HEALTH_SEED,
    on_batch: Callable[[int], object] | None = None,
) -> dict[str, Any]:
    """FD on classifier features, diversity and attribute-frequency gap of G's samples vs the reference.

    As many samples as the reference has images, from codes drawn with ``seed``; ``on_batch(n)`` after
    each batch of n images."""
    from genomekit.inference import render
    from genomekit.metrics.frechet import frechet_distance

    device = next(G.parameters()).device
    rng = torch.Generator(device=device).manual_seed(seed)
    codes = G.sample_codes(reference.count, rng)
    parts = []  # a batch of images in memory at a time
    for start in range(0, len(codes), batch_size):
        batch = codes[start : start + batch_size]
        parts.append(_score(classifiers, render(G, batch, batch_size).clamp(-1, 1)))
        if on_batch is not None:
            on_batch(len(batch))
    probs, feats = torch.cat([p for p, _ in parts]), torch.cat([f for _, f in parts])
    mean, covariance, frequencies, pairwise = _summaries(probs, feats)
    gaps = np.abs(frequencies - reference.frequencies)
    worst = int(gaps.argmax())
    return {
        "fd_cls": float(frechet_distance(mean, covariance, reference.mean, reference.covariance)),
        "diversity": pairwise / max(reference.pairwise, 1e-12),
        "freq_gap": float(gaps[worst]),
        "freq_gap_attribute": attributes[worst],
        "sample_frequencies": {a: round(float(v), 4) for a, v in zip(attributes, frequencies, strict=True)},
    }


@dataclasses.dataclass(frozen=True)
class ModelHealth:
    """``measure_health``'s result: a snapshot's figures for any model at any sample count."""

    figures: dict[str, Any]  # sample_health's, and genome_health's for a Genome
    frequencies: pd.DataFrame  # one row per attribute: generated, data, gap; the largest gap first
    count: int  # generated images, and as many real ones
    cached: bool = False  # whether the real images' statistics came from the cache


def measure_health(
    G: Generator,
    classifiers,
    dataset,
    samples: int,
    *,
    batch_size: int = 128,
    seed: int = HEALTH_SEED,
    on_batch: Callable[[int], object] | None = None,
    cache_dir: Path | None = None,
) -> ModelHealth:
    """What a training snapshot measures (``HealthMonitor``), for any model and sample count: ``samples``
    generated images (codes from ``seed``) against the dataset's first ``samples`` images, both scored
    by ``classifiers`` on G's device; ``on_batch(n)`` after each batch of n images, real or generated.

    With ``cache_dir`` the real images' statistics are read from, or written to, a file there keyed by
    the dataset's content hash, the classifier set's identity and the image count."""
    import pandas as pd

    names = tuple(classifiers.attribute_names)
    cache = None
    if cache_dir is not None:
        from genomekit.metrics import dataset_content_hash

        count = min(samples, len(dataset))
        key = f"{dataset_content_hash(dataset)[:24]}-{classifiers.identity}-n{count}"
        cache = Path(cache_dir) / f"health-{key}.npz"
    reference, cached = cached_reference(cache, dataset, classifiers, samples, batch_size=batch_size, on_batch=on_batch)
    figures = sample_health(G, classifiers, reference, names, batch_size=batch_size, seed=seed, on_batch=on_batch)
    if G.genome_shape is not None:
        figures.update(genome_health(G))
    generated = figures["sample_frequencies"]
    frequencies = pd.DataFrame(
        {"attribute": names, "generated": [generated[a] for a in names], "data": reference.frequencies}
    )
    frequencies["gap"] = (frequencies["generated"] - frequencies["data"]).abs()
    frequencies = frequencies.sort_values("gap", ascending=False, kind="stable", ignore_index=True)
    return ModelHealth(figures=figures, frequencies=frequencies, count=reference.count, cached=cached)


class HealthMonitor:
    """What `train` calls at every snapshot: genome figures always, sample figures with a classifier set.

    The real images' statistics are computed once per run and cached in the run directory.
    """

    def __init__(self, classifiers=None, samples: int = 1024) -> None:
        self.classifiers = classifiers
        self.samples = samples
        self._reference: Reference | None = None

    def prepare(self, dataset, out: Path) -> None:
        if self.classifiers is None:
            return
        cache = out / f"health_reference_{self.classifiers.identity}_{self.samples}.npz"
        self._reference, _ = cached_reference(cache, dataset, self.classifiers, self.samples)

    def __call__(self, G: Generator) -> dict[str, Any]:
        row: dict[str, Any] = {}
        if G.genome_shape is not None:
            row.update(genome_health(G))
        if self.classifiers is not None and self._reference is not None:
            device = next(G.parameters()).device
            self.classifiers.to(device)
            row.update(sample_health(G, self.classifiers, self._reference, tuple(self.classifiers.attribute_names)))
        return row
