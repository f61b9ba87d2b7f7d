"""Using the genome: conditional samples (eq. 6), their evaluation (Table 4), interpolation, pruning.

Each public function here is what one `genomekit` command calls; the maths lives in
``genomekit.sampling``, ``genomekit.pruning`` and ``genomekit.stats``.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import Tensor, nn

from genomekit.errors import UserError
from genomekit.fileio import atomic_path, atomic_write, write_json
from genomekit.images import save_gif, save_grid, save_images
from genomekit.networks import Generator
from genomekit.sampling import Condition, gene_substitution_path, linear_ws, parse_conditions, sample_conditional
from genomekit.stats import Stats, attribute_given_variant, load_stats, realness_given_variant

logger = logging.getLogger(__name__)


# -- loading and checking ------------------------------------------------------------------------


@dataclass(frozen=True)
class GenomeAnalysis:
    """A Genome generator with the statistics collected from it."""

    G: Generator
    stats: Stats
    p_attr: Tensor  # (G, V, A) p(a | k_i = j), NaN where never seen

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.stats.attributes


def load_analysis(
    model: str | Path, stats_dir: str | Path, device: str = "cpu", allow_other_model: bool = False
) -> GenomeAnalysis:
    """Load a Genome checkpoint and its statistics, refusing a pair that does not belong together."""
    from genomekit.training import load_generator, model_identity

    G = load_generator(model, device)
    if G.genome_shape is None:
        raise UserError(f"{model} is a mapping-network model; conditional sampling needs a Genome model")
    stats = load_stats(stats_dir)
    if tuple(stats.genome_shape) != tuple(G.genome_shape):
        raise UserError(
            f"the statistics in {stats_dir} are for a genome of shape (G, V, D) = {tuple(stats.genome_shape)}, "
            f"but {model} has {tuple(G.genome_shape)}; collect statistics for this model first"
        )
    collected_from = stats.manifest["identity"]["model"]
    if collected_from != model_identity(model) and not allow_other_model:
        raise UserError(
            f"the statistics in {stats_dir} were collected from another model (identity {collected_from}, "
            f"{model} is {model_identity(model)}); collect statistics for this model, or pass "
            "--allow-other-model if it derives from that one (e.g. pruned)"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_attr = attribute_given_variant(stats.totals.sums, stats.totals.counts, min_count=0)
    return GenomeAnalysis(G=G, stats=stats, p_attr=p_attr)


def resolve_conditions(specs: Sequence[str], attributes: Sequence[str]) -> list[Condition]:
    """``--attr`` values to conditions, with the classifier package's forgiving name matching."""
    from classifiers.attributes import resolve_attribute

    try:
        return parse_conditions(specs, attributes, lambda name: resolve_attribute(name, attributes))
    except ValueError as error:
        raise UserError(str(error)) from None


def check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise UserError(f"--temp must be > 0, got {temperature} (1 = eq. 6 as is; lower = stronger conditioning)")


@torch.no_grad()
def render(G: Generator, sequences: Tensor, batch_size: int = 64) -> Tensor:
    """Images (N, C, H, W) of gene sequences, with constant noise, on the CPU."""
    device = next(G.parameters()).device
    parts = [G(sequences[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(sequences), batch_size)]
    return torch.cat(parts)


@torch.no_grad()
def classify(classifiers, images: Tensor, batch_size: int = 128) -> tuple[Tensor, Tensor]:
    """Probabilities (N, A) and penultimate features (N, F) of images, on the CPU."""
    device = next(classifiers.parameters()).device
    probs, feats = [], []
    for i in range(0, len(images), batch_size):
        p, f = classifiers.probabilities_and_features(images[i : i + batch_size].to(device))
        probs.append(p.cpu())
        feats.append(f.cpu())
    return torch.cat(probs), torch.cat(feats)


def _write_sequences(path: Path, sequences: Tensor, extra: dict[str, str]) -> None:
    columns = {"sample_id": pa.array(np.arange(len(sequences), dtype=np.int64))}
    for gene in range(sequences.shape[1]):
        columns[f"gene_{gene:03d}"] = pa.array(sequences[:, gene].numpy().astype(np.uint16))
    table = pa.table(columns).replace_schema_metadata({k.encode(): v.encode() for k, v in extra.items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


# -- genomekit sample ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleResult:
    out: Path
    conditions: tuple[Condition, ...]
    sequences: Tensor  # (N, G)
    scores: pd.DataFrame | None  # per requested attribute: conditional vs unconditional fractions


def sample(
    model: str | Path,
    stats_dir: str | Path,
    specs: Sequence[str],
    temperature: float,
    num_samples: int,
    out: str | Path,
    *,
    seed: int = 0,
    classifiers_path: str | Path | None = None,
    device: str = "cpu",
    allow_other_model: bool = False,
    columns: int = 8,
) -> SampleResult:
    """Conditional samples by eq. 6 with temperature: grid.png, images/, sequences.parquet, sample.json.

    With ``classifiers_path``, the samples and as many unconditional ones (same seed) are scored, and
    the fraction that shows each requested attribute value is reported for both.
    """
    check_temperature(temperature)
    if num_samples < 1:
        raise UserError(f"--n must be at least 1, got {num_samples}")
    analysis = load_analysis(model, stats_dir, device, allow_other_model)
    conditions = resolve_conditions(specs, analysis.attributes)
    genome = analysis.G.latent
    sequences = sample_conditional(
        genome, analysis.p_attr, conditions, temperature, num_samples, torch.Generator().manual_seed(seed)
    ).cpu()
    images = render(analysis.G, sequences)
    out = Path(out)
    save_grid(images, out / "grid.png", columns=min(columns, num_samples))
    save_images(images, out / "images", [f"{i:05d}.png" for i in range(num_samples)])
    description = {
        "model": str(model),
        "stats": str(stats_dir),
        "conditions": [str(c) for c in conditions],
        "temperature": temperature,
        "seed": seed,
        "samples": num_samples,
    }
    _write_sequences(out / "sequences.parquet", sequences, {"genomekit": json.dumps(description)})
    table = None
    if classifiers_path is not None:
        table = _score_against_unconditional(analysis, classifiers_path, conditions, images, num_samples, seed, device)
        with atomic_write(out / "scores.csv", "w") as f:
            table.to_csv(f, index=False)
        description["scores"] = table.to_dict(orient="records")
    write_json(out / "sample.json", description)
    return SampleResult(out=out, conditions=tuple(conditions), sequences=sequences, scores=table)


def _score_against_unconditional(analysis, classifiers_path, conditions, images, n, seed, device) -> pd.DataFrame:
    from classifiers import load_classifier_set

    classifiers = load_classifier_set(classifiers_path, device, resolution=analysis.G.config.resolution)
    check_classifier_attributes(classifiers, analysis.attributes)
    uncond_seqs = analysis.G.latent.sample(n, torch.Generator().manual_seed(seed)).cpu()
    probs, _ = classify(classifiers, images)
    uncond_probs, _ = classify(classifiers, render(analysis.G, uncond_seqs))
    names = list(classifiers.attribute_names)
    rows = []
    for c in conditions:
        col = names.index(c.attribute)
        hit = (probs[:, col] > 0.5) == c.present
        base = (uncond_probs[:, col] > 0.5) == c.present
        rows.append(
            {
                "attribute": c.attribute,
                "requested": "present" if c.present else "absent",
                "conditional_fraction": hit.float().mean().item(),
                "unconditional_fraction": base.float().mean().item(),
                "conditional_mean_probability": probs[:, col].mean().item(),
                "unconditional_mean_probability": uncond_probs[:, col].mean().item(),
            }
        )
    return pd.DataFrame(rows)


def check_classifier_attributes(classifiers, attributes: Sequence[str]) -> None:
    missing = [a for a in attributes if a not in classifiers.attribute_names]
    if missing:
        raise UserError(
            f"the classifier set lacks attributes of the statistics ({', '.join(missing[:5])}); "
            "score with the set the statistics were collected with"
        )


# -- genomekit evaluate-conditional --------------------------------------------------------------


def evaluate_conditional(
    model: str | Path,
    stats_dir: str | Path,
    classifiers_path: str | Path,
    attributes: Sequence[str],
    temperatures: Sequence[float],
    num_samples: int,
    out: str | Path,
    *,
    seed: int = 0,
    device: str = "cpu",
    allow_other_model: bool = False,
    inception: nn.Module | None = None,
) -> pd.DataFrame:
    """Table 4's form: for each attribute, value (present/absent) and temperature, the classifier accuracy
    of conditional samples and the Fréchet distance of their classifier features to unconditional ones.

    With ``inception`` (``genomekit.metrics.load_inception()``), also their FID to the unconditional
    samples (column ``fid``): the papers' features, ~4 images/s per CPU core.
    Writes conditional.csv and conditional.png (accuracy vs FD, one line per attribute value).
    """
    from classifiers import load_classifier_set
    from genomekit.metrics.fid import image_feature_stats
    from genomekit.metrics.frechet import FeatureStats, frechet_distance_from_stats

    for t in temperatures:
        check_temperature(t)
    if num_samples < 2:
        raise UserError("--n must be at least 2 (a Fréchet distance needs a covariance)")
    analysis = load_analysis(model, stats_dir, device, allow_other_model)
    classifiers = load_classifier_set(classifiers_path, device, resolution=analysis.G.config.resolution)
    check_classifier_attributes(classifiers, analysis.attributes)
    names = list(classifiers.attribute_names)
    uncond = analysis.G.latent.sample(num_samples, torch.Generator().manual_seed(seed + 1)).cpu()
    uncond_images = render(analysis.G, uncond)
    uncond_probs, uncond_feats = classify(classifiers, uncond_images)
    reference = FeatureStats.from_features(uncond_feats)
    fid_reference = image_feature_stats(uncond_images, inception) if inception is not None else None
    rows = []
    for spec in attributes:
        (positive,) = resolve_conditions([spec], analysis.attributes)
        col = names.index(positive.attribute)
        for present in (True, False):
            condition = Condition(positive.attribute, positive.index, present)
            baseline = ((uncond_probs[:, col] > 0.5) == present).float().mean().item()
            for t in temperatures:
                seqs = sample_conditional(
                    analysis.G.latent, analysis.p_attr, [condition], t, num_samples, torch.Generator().manual_seed(seed)
                ).cpu()
                images = render(analysis.G, seqs)
                probs, feats = classify(classifiers, images)
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
    table = pd.DataFrame(rows)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "conditional.csv", "w") as f:
        table.to_csv(f, index=False)
    _accuracy_diversity_plot(table, out / "conditional.png")
    return table


def _accuracy_diversity_plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
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
    plt.close(fig)


# -- genomekit interpolate -----------------------------------------------------------------------


def parse_sequence(text: str, genome, what: str) -> Tensor:
    """A gene sequence from ``seed:N`` (a uniform draw) or comma-separated variant indices."""
    text = text.strip()
    if text.startswith("seed:"):
        try:
            seed = int(text[5:])
        except ValueError:
            raise UserError(f"{what}: 'seed:N' needs an integer N, got {text!r}") from None
        return genome.sample(1, torch.Generator().manual_seed(seed))[0].cpu()
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise UserError(f"{what}: give 'seed:N' or {genome.num_genes} comma-separated variant indices") from None
    if len(values) != genome.num_genes or not all(0 <= v < genome.num_variants for v in values):
        raise UserError(
            f"{what}: a gene sequence has {genome.num_genes} variant indices in [0, {genome.num_variants}), "
            f"got {len(values)} values"
        )
    return torch.tensor(values, dtype=torch.int64)


@torch.no_grad()
def interpolate(
    model: str | Path, start: str, end: str, steps: int, out: str | Path, device: str = "cpu"
) -> dict[str, Path]:
    """Linear-in-w and gene-by-gene interpolation strips (PNG) and animations (GIF)."""
    from genomekit.training import load_generator

    if steps < 2:
        raise UserError(f"--steps must be at least 2, got {steps}")
    G = load_generator(model, device)
    if G.genome_shape is None:
        raise UserError(f"{model} is a mapping-network model; interpolation between gene sequences needs a Genome")
    a = parse_sequence(start, G.latent, "--from")
    b = parse_sequence(end, G.latent, "--to")
    out = Path(out)
    ws = linear_ws(G.latent, a.to(device), b.to(device), steps)
    linear = G.synthesis(ws, noise_mode="const").float().cpu()
    genes = render(G, gene_substitution_path(a, b, steps))
    paths = {
        "linear_png": out / "interpolate_linear.png",
        "linear_gif": out / "interpolate_linear.gif",
        "genes_png": out / "interpolate_genes.png",
        "genes_gif": out / "interpolate_genes.gif",
    }
    save_grid(linear, paths["linear_png"], columns=steps)
    save_gif(linear, paths["linear_gif"], scale=max(1, 128 // G.img_resolution))
    save_grid(genes, paths["genes_png"], columns=steps)
    save_gif(genes, paths["genes_gif"], scale=max(1, 128 // G.img_resolution))
    return paths


# -- genomekit prune -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneResult:
    out: Path
    count: int
    fd_before: float | None
    fd_after: float | None
    samples: int


def prune(
    model: str | Path,
    stats_dir: str | Path,
    count: int,
    out: str | Path,
    *,
    data: str | Path | None = None,
    classifiers_path: str | Path | None = None,
    num_samples: int = 2000,
    seed: int = 0,
    device: str = "cpu",
) -> PruneResult:
    """Replace each gene's ``count`` least real variants with copies of its most real ones (Appendix C),
    write the pruned generator as an inference checkpoint and, given ``data`` and ``classifiers_path``,
    report the Fréchet distance (classifier features) to the data before and after.
    """
    from genomekit.pruning import prune_genome, pruning_plan
    from genomekit.training import load_discriminator, save_inference_checkpoint

    analysis = load_analysis(model, stats_dir, device)
    V = analysis.G.latent.num_variants
    if not 0 <= count <= V // 2:
        raise UserError(f"--count must be between 0 and V/2 = {V // 2} for this genome, got {count}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        realness = realness_given_variant(analysis.stats.totals.realness_sums, analysis.stats.totals.counts, 0)
    targets, sources = pruning_plan(realness, count)
    fd_before = fd_after = None
    measure = data is not None and classifiers_path is not None
    if measure:
        from classifiers import load_classifier_set

        classifiers = load_classifier_set(classifiers_path, device, resolution=analysis.G.config.resolution)
        real_stats = _real_feature_stats(data, classifiers, num_samples, seed)
        fd_before = _fd_to_real(analysis.G, classifiers, real_stats, seed)
    pruned = analysis.G
    prune_genome(pruned.latent, targets.to(device), sources.to(device))
    if measure:
        fd_after = _fd_to_real(pruned, classifiers, real_stats, seed)
    D = load_discriminator(model, device)
    record = {"count": count, "stats": str(stats_dir), "source_model": str(model)}
    save_inference_checkpoint(out, pruned, D, extra={"pruning": json.dumps(record)})
    return PruneResult(out=Path(out), count=count, fd_before=fd_before, fd_after=fd_after, samples=num_samples)


def _real_feature_stats(data, classifiers, num_samples: int, seed: int):
    """Classifier-feature statistics of up to ``num_samples`` real images drawn with ``seed``."""
    from genomekit.data import open_dataset
    from genomekit.metrics.frechet import FeatureStats

    dataset = open_dataset(data)
    n = min(num_samples, len(dataset))
    if n < 2:
        raise UserError(f"{data} has too few images for a Fréchet distance")
    index = np.random.default_rng(seed).choice(len(dataset), n, replace=False)
    reals = torch.stack([dataset[int(i)] for i in index]).float() / 127.5 - 1
    _, real_feats = classify(classifiers, reals)
    return FeatureStats.from_features(real_feats)


def _fd_to_real(G, classifiers, real_stats, seed: int) -> float:
    """Fréchet distance (classifier features) between as many samples of G as real images and the reals."""
    from genomekit.metrics.frechet import FeatureStats, frechet_distance_from_stats

    seqs = G.latent.sample(real_stats.count, torch.Generator().manual_seed(seed)).cpu()
    _, fake_feats = classify(classifiers, render(G, seqs))
    return frechet_distance_from_stats(FeatureStats.from_features(fake_feats), real_stats)
