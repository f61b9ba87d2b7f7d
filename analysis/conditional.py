"""Conditional samples from the genome (eq. 6 with temperature) and their evaluation (Table 4).

Both can first refine eq. 6's statistics under eq. 6 itself (``Refinement``: a few rounds of samples
drawn, rendered and scored by the statistics' own classifier set, ``genomekit.sampling.refine_statistics``);
the CLI does so by default, as the sampler measured best by an independent classifier set on the
faces (docs/GENOME_HEALTH.md, section 4). ``Gibbs`` instead keeps eq. 5 whole: sequences are drawn by
Gibbs sampling with a surrogate of p(a | k) fitted to the statistics' rows (``genomekit.surrogate``),
the better sampler for a class-like attribute such as a garment's kind (section 4c).

``sample`` is what `genomekit sample` calls and ``evaluate_conditional`` what `genomekit
evaluate-conditional` calls; both take the loaded model, statistics and classifier set (see
``analysis.inputs``). The maths lives in ``genomekit.sampling`` and ``genomekit.stats``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import Tensor, nn

from analysis.inputs import (
    Progress,
    attribute_probabilities,
    check_classifier_attributes,
    check_genome_and_stats,
    check_temperature,
    check_temperatures,
    load_stats_classifiers,  # noqa: F401  (its import path before the split; tests use it)
    resolve_conditions,
    stats_name,
)
from analysis.prune import prune  # noqa: F401  (its import path before the split; tests use it)
from genomekit.errors import UserError
from genomekit.fileio import atomic_path, atomic_write, write_json
from genomekit.images import save_grid, save_images
from genomekit.inference import render, score
from genomekit.sampling import Condition, refine_statistics, sample_conditional
from genomekit.stats import Stats
from genomekit.surrogate import SequenceSurrogate, fit_surrogate, read_rows, sample_gibbs

if TYPE_CHECKING:
    from classifiers import ClassifierSet
    from genomekit.training.checkpoint import Checkpoint

logger = logging.getLogger(__name__)


def _write_sequences(path: Path, sequences: Tensor, extra: dict[str, str]) -> None:
    columns = {"sample_id": pa.array(np.arange(len(sequences), dtype=np.int64))}
    for gene in range(sequences.shape[1]):
        columns[f"gene_{gene:03d}"] = pa.array(sequences[:, gene].numpy().astype(np.uint16))
    table = pa.table(columns).replace_schema_metadata({k.encode(): v.encode() for k, v in extra.items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


# -- refined statistics --------------------------------------------------------------------------


@dataclass(frozen=True)
class Refinement:
    """Re-estimate eq. 6's ``p(a | k_i = j)`` for the requested attributes under eq. 6 itself before
    sampling: ``rounds`` x ``samples`` extra images, scored by the set the statistics were collected
    with (soft scores, ``prior`` pseudo-samples towards the collected estimate)."""

    rounds: int = 2
    samples: int = 256
    prior: float = 8.0

    def describe(self) -> str:
        return f"eq. 6 with statistics refined under itself ({self.rounds} rounds x {self.samples})"


@dataclass(frozen=True)
class Gibbs:
    """Draw from eq. 5, ``p(k) p(a | k)^(1/T)``, by ``sweeps`` Gibbs sweeps over the genes, with ``p(a | k)``
    an MLP on w (``hidden`` units, at most ``epochs`` epochs) fitted to the statistics' rows."""

    sweeps: int = 8
    hidden: int = 256
    epochs: int = 25

    def describe(self) -> str:
        return f"eq. 5 by Gibbs sampling ({self.sweeps} sweeps) with a surrogate of p(a | k) fitted to the statistics' rows"


def stats_surrogate(G: nn.Module, stats: Stats, gibbs: Gibbs, seed: int) -> SequenceSurrogate:
    """The surrogate ``gibbs`` samples with, fitted to every row of ``stats`` (seeded by ``seed``)."""
    sequences, probabilities = read_rows(stats)
    surrogate, fit = fit_surrogate(
        G.latent.genes.detach().cpu(), sequences, probabilities, stats.attributes, hidden=gibbs.hidden,
        epochs=gibbs.epochs, generator=torch.Generator().manual_seed(seed + 3),
    )  # fmt: skip
    logger.info(
        "surrogate of p(a | k): %d rows, held-out balanced agreement with the classifiers %.1f%% (lowest %.1f%%, %s)",
        fit.rows, 100 * np.nanmean(fit.balanced_agreement), 100 * np.nanmin(fit.balanced_agreement),
        fit.attributes[int(np.nanargmin(fit.balanced_agreement))],
    )  # fmt: skip
    return surrogate


def check_one_sampler(refinement: Refinement | None, gibbs: Gibbs | None) -> None:
    """A Gibbs sampler does not use eq. 6's statistics, so it cannot also refine them."""
    if gibbs is not None and refinement is not None:
        raise ValueError("a Gibbs sampler does not refine eq. 6's statistics; give one of refinement and gibbs")


def check_steering(refinement: Refinement | None, steering: ClassifierSet | None, stats: Stats) -> None:
    """A refinement needs ``steering``, a set that scores every attribute of ``stats``."""
    if refinement is None:
        return
    if steering is None:
        raise ValueError("refined statistics need the classifier set the statistics were collected with")
    check_classifier_attributes(steering, stats.attributes)


def conditional_statistics(
    G: nn.Module,
    stats: Stats,
    conditions: Sequence[Condition],
    temperature: float,
    refinement: Refinement | None,
    steering: ClassifierSet | None,
    seed: int,
    on_batch: Callable[[int], None] | None = None,
) -> Tensor:
    """(G, V, A) statistics to draw eq. 6 from: the collected ones, or (``refinement``) those refined under
    eq. 6 at ``temperature`` with ``steering`` (the statistics' own classifier set), seeded by ``seed``;
    ``on_batch(images)`` is called as the refinement's images are rendered."""
    p_attr = attribute_probabilities(stats)
    if refinement is None or refinement.rounds == 0 or not conditions:
        return p_attr
    check_steering(refinement, steering, stats)
    names = list(steering.attribute_names)
    columns = [names.index(a) for a in stats.attributes]

    def steer(sequences: Tensor) -> Tensor:
        probabilities, _ = score(steering, render(G, sequences, on_batch=on_batch))
        return probabilities[:, columns]

    return refine_statistics(
        G.latent, p_attr, conditions, temperature, steer, rounds=refinement.rounds, samples=refinement.samples,
        prior=refinement.prior, generator=torch.Generator().manual_seed(seed + 2),
    )  # fmt: skip


# -- genomekit sample ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleResult:
    out: Path
    conditions: tuple[Condition, ...]
    sequences: Tensor  # (N, G)
    scores: pd.DataFrame | None  # per requested attribute: conditional vs unconditional fractions


def unconditional_scores(G: nn.Module, classifiers: ClassifierSet, num_samples: int, seed: int = 0) -> Tensor:
    """Classifier probabilities (N, A) of ``num_samples`` uniform gene sequences drawn with ``seed``:
    the baseline ``sample`` compares conditional samples with (same count, same seed)."""
    sequences = G.latent.sample(num_samples, torch.Generator().manual_seed(seed)).cpu()  # (N, G)
    probabilities, _ = score(classifiers, render(G, sequences))
    return probabilities


def sample(
    model: Checkpoint,
    stats: Stats,
    specs: Sequence[str],
    temperature: float,
    num_samples: int,
    out: str | Path,
    *,
    seed: int = 0,
    classifiers: ClassifierSet | None = None,
    unconditional: Tensor | None = None,
    device: str = "cpu",
    allow_other_model: bool = False,
    columns: int = 8,
    refinement: Refinement | None = None,
    steering: ClassifierSet | None = None,
    gibbs: Gibbs | None = None,
) -> SampleResult:
    """Conditional samples by eq. 6 with temperature: grid.png, images/, sequences.parquet, sample.json.

    Args:
        model: a Genome checkpoint; stats: statistics collected from it (see ``allow_other_model``).
        specs: ``--attr`` values ("smiling", "no-male"), matched forgivingly to the statistics' attributes.
        classifiers: a classifier set (``load_stats_classifiers``): score the samples and as many
            unconditional ones (same seed) and report, for both, the fraction that shows each
            requested attribute value (scores.csv). None = no scores.
        unconditional: (N, A) ``unconditional_scores(G, classifiers, num_samples, seed)`` when the caller
            already has them (the demo scores them once for all its grids); None = computed here.
        allow_other_model: accept statistics of another model of the same genome shape.
        refinement: refine the statistics under eq. 6 first (``conditional_statistics``), with
            ``steering``, the set the statistics were collected with; None = the paper's eq. 6.
        gibbs: draw by Gibbs sampling with a surrogate fitted to the statistics' rows instead of eq. 6
            (``refinement`` must then be None).

    Every value is checked before the first image is generated, and ``out`` is written only once
    everything is computed.
    """
    # 1. Check every input.
    temperature = check_temperature(temperature)
    if num_samples < 1:
        raise UserError(f"the number of samples must be at least 1, got {num_samples}")
    check_genome_and_stats(model, stats, allow_other_model)
    conditions = resolve_conditions(specs, stats.attributes)
    if classifiers is not None:
        check_classifier_attributes(classifiers, stats.attributes)
    if unconditional is not None:
        if classifiers is None:
            raise ValueError("unconditional scores are compared with the classifier set's; give classifiers")
        if tuple(unconditional.shape) != (num_samples, classifiers.num_attributes):
            raise ValueError(
                f"unconditional scores must be (N, A) = {(num_samples, classifiers.num_attributes)}, "
                f"got {tuple(unconditional.shape)}"
            )
    check_one_sampler(refinement, gibbs)
    if conditions:
        check_steering(refinement, steering, stats)
    # 2. Generate (and score).
    G = model.generator(device)
    generator = torch.Generator().manual_seed(seed)
    if gibbs is not None and conditions:
        surrogate = stats_surrogate(G, stats, gibbs, seed)
        sequences = sample_gibbs(
            surrogate, conditions, temperature, num_samples, sweeps=gibbs.sweeps, generator=generator
        )
    else:
        p_attr = conditional_statistics(G, stats, conditions, temperature, refinement, steering, seed)
        sequences = sample_conditional(G.latent, p_attr, conditions, temperature, num_samples, generator).cpu()
    images = render(G, sequences)
    table = None
    if classifiers is not None:
        probabilities, _ = score(classifiers, images)
        if unconditional is None:
            unconditional = unconditional_scores(G, classifiers, num_samples, seed)
        table = _score_table(conditions, list(classifiers.attribute_names), probabilities, unconditional)
    # 3. Write.
    out = Path(out)
    save_grid(images, out / "grid.png", columns=min(columns, num_samples))
    save_images(images, out / "images", [f"{i:05d}.png" for i in range(num_samples)])
    description = {
        "model": model.name,
        "stats": stats_name(stats),
        "conditions": [str(c) for c in conditions],
        "temperature": temperature,
        "sampler": _describe(refinement, gibbs) if conditions else "eq. 6",
        "seed": seed,
        "samples": num_samples,
    }
    _write_sequences(out / "sequences.parquet", sequences, {"genomekit": json.dumps(description)})
    if table is not None:
        with atomic_write(out / "scores.csv", "w") as f:
            table.to_csv(f, index=False)
        description["scores"] = table.to_dict(orient="records")
        description["classifiers"] = {"identity": classifiers.identity, "source": getattr(classifiers, "source", None)}
    write_json(out / "sample.json", description)
    return SampleResult(out=out, conditions=tuple(conditions), sequences=sequences, scores=table)


def _describe(refinement: Refinement | None, gibbs: Gibbs | None) -> str:
    """The sampler in words, for sample.json and the CLI."""
    if gibbs is not None:
        return gibbs.describe()
    return refinement.describe() if refinement is not None else "eq. 6"


def _score_table(
    conditions: Sequence[Condition], names: list[str], probabilities: Tensor, unconditional: Tensor
) -> pd.DataFrame:
    """Per condition: the fraction (and mean probability) of conditional and unconditional samples
    that show the requested value. probabilities, unconditional: (N, A) in the columns of ``names``."""
    rows = []
    for c in conditions:
        col = names.index(c.attribute)
        hit = (probabilities[:, col] > 0.5) == c.present
        base = (unconditional[:, col] > 0.5) == c.present
        rows.append(
            {
                "attribute": c.attribute,
                "requested": "present" if c.present else "absent",
                "conditional_fraction": hit.float().mean().item(),
                "unconditional_fraction": base.float().mean().item(),
                "conditional_mean_probability": probabilities[:, col].mean().item(),
                "unconditional_mean_probability": unconditional[:, col].mean().item(),
            }
        )
    return pd.DataFrame(rows)


# -- genomekit evaluate-conditional --------------------------------------------------------------


def evaluate_conditional(
    model: Checkpoint,
    stats: Stats,
    classifiers: ClassifierSet,
    attributes: Sequence[str],
    temperatures: Sequence[float],
    num_samples: int,
    out: str | Path,
    *,
    seed: int = 0,
    device: str = "cpu",
    allow_other_model: bool = False,
    inception: nn.Module | None = None,
    progress: Progress | None = None,
    refinement: Refinement | None = None,
    steering: ClassifierSet | None = None,
    gibbs: Gibbs | None = None,
) -> pd.DataFrame:
    """Table 4's form: for each attribute, value (present/absent) and temperature, the classifier accuracy
    of conditional samples and the Fréchet distance of their classifier features to unconditional ones.

    With ``inception`` (``genomekit.metrics.load_inception()``), also their FID to the unconditional
    samples (column ``fid``): the papers' features, ~4 images/s per CPU core.
    Writes conditional.csv and conditional.png (accuracy vs FD, one line per attribute value).

    Args:
        model: a Genome checkpoint; stats: statistics collected from it (see ``allow_other_model``).
        classifiers: the classifier set that judges the samples (``load_stats_classifiers``; None
            there = the set the statistics were collected with).
        attributes: attribute names (forgiving matching), at least one.
        temperatures: at least one, each a finite number > 0.
        progress: ``progress(description, total)`` returns ``update(images)``; called once, with the
            number of images to generate. None = silent.
        refinement: refine the statistics of each cell under eq. 6 first (``conditional_statistics``)
            with ``steering``, the set the statistics were collected with (it steers; ``classifiers``
            judges); None = the paper's eq. 6.
        gibbs: draw each cell by Gibbs sampling with one surrogate fitted to the statistics' rows
            (``refinement`` must then be None).

    Every value is checked before the first image is generated; ``out`` is created only when the
    table is complete.
    """
    from genomekit.metrics.fid import image_feature_stats
    from genomekit.metrics.frechet import FeatureStats, frechet_distance_from_stats

    # 1. Check every input.
    temperatures = check_temperatures(temperatures)
    if not attributes:
        raise UserError("give at least one attribute to evaluate")
    if num_samples < 2:
        raise UserError(
            f"the number of samples must be at least 2 (a Fréchet distance needs a covariance), got {num_samples}"
        )
    check_genome_and_stats(model, stats, allow_other_model)
    positives = []
    for spec in attributes:
        (positive,) = resolve_conditions([spec], stats.attributes)
        if positive.attribute not in [p.attribute for p in positives]:
            positives.append(positive)
    check_classifier_attributes(classifiers, stats.attributes)
    check_one_sampler(refinement, gibbs)
    check_steering(refinement, steering, stats)
    G = model.generator(device)
    surrogate = stats_surrogate(G, stats, gibbs, seed) if gibbs is not None else None
    names = list(classifiers.attribute_names)
    extra = refinement.rounds * refinement.samples if refinement is not None else 0
    total = num_samples + (num_samples + extra) * 2 * len(positives) * len(temperatures)
    update = progress("evaluate-conditional", total) if progress is not None else None
    # 2. Unconditional reference, then each attribute, value and temperature.
    uncond = G.latent.sample(num_samples, torch.Generator().manual_seed(seed + 1)).cpu()
    uncond_images = render(G, uncond, on_batch=update)
    uncond_probs, uncond_feats = score(classifiers, uncond_images)
    reference = FeatureStats.from_features(uncond_feats)
    fid_reference = image_feature_stats(uncond_images, inception) if inception is not None else None
    rows = []
    for positive in positives:
        col = names.index(positive.attribute)
        for present in (True, False):
            condition = Condition(positive.attribute, positive.index, present)
            baseline = ((uncond_probs[:, col] > 0.5) == present).float().mean().item()
            for t in temperatures:
                generator = torch.Generator().manual_seed(seed)
                if surrogate is not None:
                    seqs = sample_gibbs(
                        surrogate, [condition], t, num_samples, sweeps=gibbs.sweeps, generator=generator
                    )
                else:
                    p_attr = conditional_statistics(G, stats, [condition], t, refinement, steering, seed, update)
                    seqs = sample_conditional(G.latent, p_attr, [condition], t, num_samples, generator).cpu()
                images = render(G, seqs, on_batch=update)
                probs, feats = score(classifiers, images)
                if fid_reference is not None:
                    fid = {"fid": frechet_distance_from_stats(image_feature_stats(images, inception), fid_reference)}
                else:
                    fid = {}
                rows.append(
                    {
                        "attribute": positive.attribute,
                        "value": "yes" if present else "no",
                        "temperature": t,
                        "accuracy": ((probs[:, col] > 0.5) == present).float().mean().item(),
                        "unconditional_accuracy": baseline,
                        "fd_classifier": frechet_distance_from_stats(FeatureStats.from_features(feats), reference),
                        **fid,
                        "samples": num_samples,
                    }
                )
    # 3. Write.
    table = pd.DataFrame(rows)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "conditional.csv", "w") as f:
        table.to_csv(f, index=False)
    _accuracy_diversity_plot(table, out / "conditional.png")
    return table


def falling_cells(table: pd.DataFrame) -> list[str]:
    """The cells (attribute and value) of an ``evaluate_conditional`` table whose accuracy falls as the
    temperature goes down, one entry per fall: "Smiling=yes (80% at T = 1, 75% at 0.5)"."""
    falls = []
    for (attribute, value), group in table.groupby(["attribute", "value"], sort=False):
        group = group.sort_values("temperature", ascending=False)
        pairs = zip(group.itertuples(), list(group.itertuples())[1:], strict=False)
        falls += [f"{attribute}={value} ({a.accuracy:.0%} at T = {a.temperature:g}, {b.accuracy:.0%} at "
                  f"{b.temperature:g})" for a, b in pairs if b.accuracy < a.accuracy]  # fmt: skip
    return falls


def table4_summary(table: pd.DataFrame) -> list[str]:
    """Two lines on an ``evaluate_conditional`` table: the mean accuracy over its cells (attribute and value)
    per temperature, and the cells whose accuracy falls as the temperature goes down."""
    cells = table.groupby(["attribute", "value"], sort=False).ngroups
    means = table.groupby("temperature")["accuracy"].mean().sort_index(ascending=False)
    falls = falling_cells(table)
    return [f"mean accuracy over {cells} cells: " + ", ".join(f"T = {t:g}: {a:.1%}" for t, a in means.items()),
            f"falls as T goes down: {'; '.join(falls) if falls else 'none'}"]  # fmt: skip


def _accuracy_diversity_plot(table: pd.DataFrame, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5))
    FigureCanvasAgg(fig)  # no pyplot: no global backend, nothing to close
    ax = fig.subplots()
    for (attribute, value), group in table.groupby(["attribute", "value"], sort=False):
        group = group.sort_values("temperature", ascending=False)
        ax.plot(group["fd_classifier"], group["accuracy"] * 100, marker="o", label=f"{attribute}={value}")
        for row in group.itertuples():
            ax.annotate(f"T={row.temperature:g}", (row.fd_classifier, row.accuracy * 100), fontsize=6)
    ax.set_xlabel("Fréchet distance to unconditional samples (classifier features) - lower = more diverse")
    ax.set_ylabel("classifier accuracy of conditional samples (%)")
    ax.set_title("Conditional sampling: accuracy vs diversity across temperatures")
    ax.legend(fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight")
