"""`genomekit prune`: discriminator-based pruning of the genome (StyleGenes Appendix C).

The plan (which variants to replace by which) is ``genomekit.pruning``'s; here the loaded model and
statistics are turned into a pruned inference checkpoint, with the Fréchet distance (classifier
features) to real images before and after when a dataset is given.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from analysis.inputs import Progress, check_genome_and_stats, stats_name
from genomekit.errors import UserError
from genomekit.inference import render, score
from genomekit.stats import Stats, realness_given_variant

if TYPE_CHECKING:
    from classifiers import ClassifierSet
    from genomekit.data import ImageDataset
    from genomekit.training.checkpoint import Checkpoint


@dataclass(frozen=True)
class PruneResult:
    out: Path
    count: int
    fd_before: float | None
    fd_after: float | None
    samples: int


def check_prune_count(model: Checkpoint, count: int) -> None:
    """``count`` variants per gene can be replaced: 0 <= count <= V/2 (a Genome model)."""
    V = model.genome_shape[1]
    if not 0 <= count <= V // 2:
        raise UserError(
            f"the number of variants to replace per gene must be between 0 and V/2 = {V // 2} for this genome, "
            f"got {count}"
        )


def check_measure_dataset(dataset: ImageDataset, num_samples: int, name: str | Path) -> None:
    """The Fréchet distances need at least 2 samples and 2 real images of ``dataset`` (named ``name``)."""
    if num_samples < 2:
        raise UserError(f"the number of samples must be at least 2 for a Fréchet distance, got {num_samples}")
    if min(num_samples, len(dataset)) < 2:
        raise UserError(f"{name} has {len(dataset)} image(s); a Fréchet distance needs at least 2")


def prune(
    model: Checkpoint,
    stats: Stats,
    count: int,
    out: str | Path,
    *,
    dataset: ImageDataset | None = None,
    classifiers: ClassifierSet | None = None,
    num_samples: int = 2000,
    seed: int = 0,
    device: str = "cpu",
    progress: Progress | None = None,
) -> PruneResult:
    """Replace each gene's ``count`` least real variants with copies of its most real ones (Appendix C),
    write the pruned generator (with the model's discriminator) as an inference checkpoint and, given
    ``dataset``, report the Fréchet distance (classifier features) to it before and after.

    Args:
        model: a Genome checkpoint with a discriminator; stats: statistics collected from it (their
            realness sums rank the variants). The model's own networks are left unchanged.
        dataset: real images (``genomekit.data.open_dataset``) for the Fréchet distances; None = none.
        classifiers: the classifier set whose features the Fréchet distances use (needed with
            ``dataset``; ``load_stats_classifiers(stats, None, check_attributes=False)`` = the set the
            statistics were collected with).
        num_samples: real images (at most the dataset's) and generated ones per Fréchet distance.
        progress: ``progress(description, total)`` returns ``update(images)``; with ``dataset``, called
            once with the number of images to classify (reals, then samples before and after). None = silent.

    Every input is checked before anything is generated, and ``out`` is written last.
    """
    from genomekit.pruning import prune_genome, pruning_plan
    from genomekit.training import save_inference_checkpoint

    # 1. Check every input.
    check_genome_and_stats(model, stats)
    check_prune_count(model, count)
    D = model.discriminator(device)
    measure = dataset is not None
    if measure:
        check_measure_dataset(dataset, num_samples, getattr(dataset, "path", "the dataset"))
        if classifiers is None:
            raise ValueError("the Fréchet distances need a classifier set: give classifiers with the dataset")
    # 2. Plan, measure before, prune a copy, measure after.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        realness = realness_given_variant(stats.totals.realness_sums, stats.totals.counts, 0)
    targets, sources = pruning_plan(realness, count)
    G = model.generator(device)
    fd_before = fd_after = None
    if measure:
        n = min(num_samples, len(dataset))
        update = progress("prune: Fréchet distances", 3 * n) if progress is not None else None
        real_stats = _real_feature_stats(dataset, classifiers, n, seed, update)
        fd_before = _fd_to_real(G, classifiers, real_stats, seed, update)
    pruned = copy.deepcopy(G)  # the checkpoint's generator is shared; prune a copy
    prune_genome(pruned.latent, targets.to(device), sources.to(device))
    if measure:
        fd_after = _fd_to_real(pruned, classifiers, real_stats, seed, update)
    # 3. Write.
    record = {"count": count, "stats": stats_name(stats), "source_model": model.name}
    save_inference_checkpoint(out, pruned, D, extra={"pruning": json.dumps(record)})
    return PruneResult(out=Path(out), count=count, fd_before=fd_before, fd_after=fd_after, samples=num_samples)


def _real_feature_stats(dataset, classifiers, n: int, seed: int, update: Callable[[int], object] | None = None):
    """Classifier-feature statistics of ``n`` real images of ``dataset`` drawn with ``seed``."""
    from genomekit.metrics.frechet import FeatureStats

    index = np.random.default_rng(seed).choice(len(dataset), n, replace=False)
    reals = torch.stack([dataset[int(i)] for i in index]).float() / 127.5 - 1  # (n, C, H, W) in [-1, 1]
    _, real_feats = score(classifiers, reals)
    if update is not None:
        update(n)
    return FeatureStats.from_features(real_feats)


def _fd_to_real(G, classifiers, real_stats, seed: int, update: Callable[[int], object] | None = None) -> float:
    """Fréchet distance (classifier features) between as many samples of G as real images and the reals."""
    from genomekit.metrics.frechet import FeatureStats, frechet_distance_from_stats

    seqs = G.latent.sample(real_stats.count, torch.Generator().manual_seed(seed)).cpu()
    _, fake_feats = score(classifiers, render(G, seqs, on_batch=update))
    return frechet_distance_from_stats(FeatureStats.from_features(fake_feats), real_stats)
