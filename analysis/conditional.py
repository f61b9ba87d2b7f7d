"""Using the genome: conditional samples (eq. 6), their evaluation (Table 4), interpolation, pruning.

Each public function here is what one `genomekit` command calls; the maths lives in
``genomekit.sampling``, ``genomekit.pruning`` and ``genomekit.stats``.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Callable, Sequence
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
from genomekit.stats import Stats, attribute_given_variant, classifier_source, load_stats, realness_given_variant

logger = logging.getLogger(__name__)

# ``progress(description, total)`` returns ``update(n)``, called with the images done (as in probes.probe_models).
Progress = Callable[[str, int], Callable[[int], object]]


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


def check_genome_model(G: Generator, model: str | Path, purpose: str = "conditional sampling") -> None:
    """A mapping-network model (no genome) is a UserError naming what needs a Genome."""
    if G.genome_shape is None:
        raise UserError(f"{model} is a mapping-network model; {purpose} needs a Genome model")


def check_model_matches_stats(
    G: Generator, model: str | Path, stats: Stats, stats_dir: str | Path, allow_other_model: bool = False
) -> None:
    """Refuse statistics of another genome shape, or of another model unless ``allow_other_model``.

    Args:
        G: the generator loaded from ``model`` (a Genome model).
        model: its checkpoint path (or shipped name), whose identity is compared with the statistics'.
    """
    from genomekit.training import model_identity

    if tuple(stats.genome_shape) != tuple(G.genome_shape):
        raise UserError(
            f"the statistics in {stats_dir} are for a genome of shape (G, V, D) = {tuple(stats.genome_shape)}, "
            f"but {model} has {tuple(G.genome_shape)}; collect statistics for this model first"
        )
    collected_from = stats.manifest["identity"]["model"]
    if not allow_other_model and collected_from != (identity := model_identity(model)):
        raise UserError(
            f"the statistics in {stats_dir} were collected from another model (identity {collected_from}, "
            f"{model} is {identity}); collect statistics for this model, or pass "
            "--allow-other-model if it derives from that one (e.g. pruned)"
        )


def load_analysis(
    model: str | Path, stats_dir: str | Path, device: str = "cpu", allow_other_model: bool = False
) -> GenomeAnalysis:
    """Load a Genome checkpoint and its statistics, refusing a pair that does not belong together."""
    from genomekit.training import load_generator

    G = load_generator(model, device)
    check_genome_model(G, model)
    stats = load_stats(stats_dir)
    check_model_matches_stats(G, model, stats, stats_dir, allow_other_model)
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


def check_temperature(temperature: float) -> float:
    """``temperature`` as a float; anything but a finite number > 0 (0, -1, inf, nan) is a UserError."""
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise UserError(f"temperature must be a finite number > 0, got {temperature!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise UserError(
            f"temperature must be a finite number > 0, got {value:g} (1 = eq. 6 as is; lower = stronger conditioning)"
        )
    return value


def check_temperatures(temperatures: Sequence[float]) -> list[float]:
    """At least one temperature, each a finite number > 0."""
    values = [check_temperature(t) for t in temperatures]
    if not values:
        raise UserError("give at least one temperature (a finite number > 0, e.g. 1.0,0.5)")
    return values


@torch.no_grad()
def render(
    G: Generator, sequences: Tensor, batch_size: int = 64, on_batch: Callable[[int], object] | None = None
) -> Tensor:
    """Images (N, C, H, W) of gene sequences, with constant noise, on the CPU.

    ``on_batch`` is called with the number of images after each batch (progress).
    """
    device = next(G.parameters()).device
    parts = []
    for i in range(0, len(sequences), batch_size):
        parts.append(G(sequences[i : i + batch_size].to(device)).float().cpu())
        if on_batch is not None:
            on_batch(len(parts[-1]))
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


def load_stats_classifiers(
    stats: Stats,
    classifiers: str | Path | None,
    device: str = "cpu",
    *,
    resolution: int | None = None,
    stats_dir: str | Path = "the statistics",
    check_attributes: bool = True,
):
    """The classifier set to score samples of ``stats`` with, loaded on ``device``.

    Args:
        stats: the loaded statistics.
        classifiers: a classifier set directory or shipped name; None = the set the statistics were
            collected with: the recorded ``classifier_source`` when it still holds a set of the recorded
            identity, else the shipped set of that identity ("default", "default-32").
        resolution: of the images to score ("default" then picks the shipped set for that size).
        stats_dir: named in messages.
        check_attributes: the set must score every attribute of the statistics.

    Raises:
        UserError: the set cannot be loaded, lacks attributes, or (None) the set the statistics were
            collected with cannot be found; the message gives its identity.
    """
    from classifiers import load_classifier_set

    if classifiers is not None:
        classifier_set = load_classifier_set(classifiers, device, resolution=resolution)
    else:
        classifier_set = _collected_with(stats, device, stats_dir)
    if check_attributes:
        check_classifier_attributes(classifier_set, stats.attributes)
    return classifier_set


def _collected_with(stats: Stats, device: str, stats_dir: str | Path):
    """The classifier set of the statistics' recorded identity, from its recorded source or a shipped set."""
    from classifiers import load_classifier_set, read_classifier_info
    from classifiers.saved import SHIPPED_SETS

    wanted, source = stats.identity.classifiers, classifier_source(stats)
    why = "which genomekit did not record (statistics from an older genomekit)"
    if source is not None:
        try:
            found = load_classifier_set(source, device)  # a recorded shipped name is already the resolved one
        except UserError as error:
            why = f"recorded as {source}, which cannot be loaded now ({error})"
        else:
            if found.identity == wanted:
                return found
            why = f"recorded as {source}, which now holds another set (identity {found.identity})"
    for name in SHIPPED_SETS:
        try:
            shipped = read_classifier_info(name).get("identity")
        except UserError:
            continue
        if shipped == wanted:
            return load_classifier_set(name, device)
    raise UserError(
        f"the statistics in {stats_dir} were collected with the classifier set of identity {wanted}, {why}; "
        f"give that set with --classifiers DIR (a directory whose classifier.json has identity {wanted})"
    )


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
    score: bool = False,
    classifiers_path: str | Path | None = None,
    device: str = "cpu",
    allow_other_model: bool = False,
    columns: int = 8,
) -> SampleResult:
    """Conditional samples by eq. 6 with temperature: grid.png, images/, sequences.parquet, sample.json.

    Args:
        score: score the samples and as many unconditional ones (same seed) with a classifier set and
            report, for both, the fraction that shows each requested attribute value (scores.csv).
        classifiers_path: the classifier set to score with (giving one implies ``score``); None = the
            set the statistics were collected with (see ``load_stats_classifiers``).

    Every input (model, statistics, conditions, classifier set) is loaded and checked before the
    first image is generated, and ``out`` is written only once everything is computed.
    """
    temperature = check_temperature(temperature)
    if num_samples < 1:
        raise UserError(f"the number of samples must be at least 1, got {num_samples}")
    # 1. Load and check every input.
    analysis = load_analysis(model, stats_dir, device, allow_other_model)
    conditions = resolve_conditions(specs, analysis.attributes)
    classifiers = None
    if score or classifiers_path is not None:
        classifiers = load_stats_classifiers(
            analysis.stats, classifiers_path, device, resolution=analysis.G.config.resolution, stats_dir=stats_dir
        )
    # 2. Generate (and score).
    genome = analysis.G.latent
    sequences = sample_conditional(
        genome, analysis.p_attr, conditions, temperature, num_samples, torch.Generator().manual_seed(seed)
    ).cpu()
    images = render(analysis.G, sequences)
    table = None
    if classifiers is not None:
        table = _score_against_unconditional(analysis, classifiers, conditions, images, num_samples, seed)
    # 3. Write.
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
    if table is not None:
        with atomic_write(out / "scores.csv", "w") as f:
            table.to_csv(f, index=False)
        description["scores"] = table.to_dict(orient="records")
        description["classifiers"] = {"identity": classifiers.identity, "source": getattr(classifiers, "source", None)}
    write_json(out / "sample.json", description)
    return SampleResult(out=out, conditions=tuple(conditions), sequences=sequences, scores=table)


def _score_against_unconditional(analysis, classifiers, conditions, images, n, seed) -> pd.DataFrame:
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
    classifiers_path: str | Path | None,
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
) -> pd.DataFrame:
    """Table 4's form: for each attribute, value (present/absent) and temperature, the classifier accuracy
    of conditional samples and the Fréchet distance of their classifier features to unconditional ones.

    With ``inception`` (``genomekit.metrics.load_inception()``), also their FID to the unconditional
    samples (column ``fid``): the papers' features, ~4 images/s per CPU core.
    Writes conditional.csv and conditional.png (accuracy vs FD, one line per attribute value).

    Args:
        classifiers_path: the classifier set that judges the samples; None = the set the statistics
            were collected with (see ``load_stats_classifiers``).
        attributes: attribute names (forgiving matching), at least one.
        temperatures: at least one, each a finite number > 0.
        progress: ``progress(description, total)`` returns ``update(images)``; called once, with the
            number of images to generate. None = silent.

    Every input is loaded and checked before the first image is generated; ``out`` is created only
    when the table is complete.
    """
    from genomekit.metrics.fid import image_feature_stats
    from genomekit.metrics.frechet import FeatureStats, frechet_distance_from_stats

    # 1. Check the values, then load and check every input.
    temperatures = check_temperatures(temperatures)
    if not attributes:
        raise UserError("give at least one attribute to evaluate")
    if num_samples < 2:
        raise UserError(
            f"the number of samples must be at least 2 (a Fréchet distance needs a covariance), got {num_samples}"
        )
    analysis = load_analysis(model, stats_dir, device, allow_other_model)
    positives = []
    for spec in attributes:
        (positive,) = resolve_conditions([spec], analysis.attributes)
        if positive.attribute not in [p.attribute for p in positives]:
            positives.append(positive)
    classifiers = load_stats_classifiers(
        analysis.stats, classifiers_path, device, resolution=analysis.G.config.resolution, stats_dir=stats_dir
    )
    names = list(classifiers.attribute_names)
    total = num_samples * (1 + 2 * len(positives) * len(temperatures))
    update = progress("evaluate-conditional", total) if progress is not None else None
    # 2. Unconditional reference, then each attribute, value and temperature.
    uncond = analysis.G.latent.sample(num_samples, torch.Generator().manual_seed(seed + 1)).cpu()
    uncond_images = render(analysis.G, uncond, on_batch=update)
    uncond_probs, uncond_feats = classify(classifiers, uncond_images)
    reference = FeatureStats.from_features(uncond_feats)
    fid_reference = image_feature_stats(uncond_images, inception) if inception is not None else None
    rows = []
    for positive in positives:
        col = names.index(positive.attribute)
        for present in (True, False):
            condition = Condition(positive.attribute, positive.index, present)
            baseline = ((uncond_probs[:, col] > 0.5) == present).float().mean().item()
            for t in temperatures:
                seqs = sample_conditional(
                    analysis.G.latent, analysis.p_attr, [condition], t, num_samples, torch.Generator().manual_seed(seed)
                ).cpu()
                images = render(analysis.G, seqs, on_batch=update)
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
    # 3. Write.
    table = pd.DataFrame(rows)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "conditional.csv", "w") as f:
        table.to_csv(f, index=False)
    _accuracy_diversity_plot(table, out / "conditional.png")
    return table


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
    if len(values) != genome.num_genes:
        raise UserError(
            f"{what}: a gene sequence has {genome.num_genes} variant indices in [0, {genome.num_variants}), "
            f"got {len(values)} values"
        )
    outside = [(gene, v) for gene, v in enumerate(values) if not 0 <= v < genome.num_variants]
    if outside:
        shown = ", ".join(f"gene {gene}: {v}" for gene, v in outside[:4])
        raise UserError(
            f"{what}: variant indices must be in [0, {genome.num_variants}); {len(outside)} are not ({shown}"
            f"{', ...' if len(outside) > 4 else ''})"
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
    progress: Progress | None = None,
) -> PruneResult:
    """Replace each gene's ``count`` least real variants with copies of its most real ones (Appendix C),
    write the pruned generator as an inference checkpoint and, given ``data``, report the Fréchet
    distance (classifier features) to the data before and after.

    Args:
        classifiers_path: the classifier set whose features the Fréchet distances use (only with
            ``data``); None = the set the statistics were collected with.
        num_samples: real images (at most the dataset's) and generated ones per Fréchet distance.
        progress: ``progress(description, total)`` returns ``update(images)``; with ``data``, called
            once with the number of images to classify (reals, then samples before and after). None = silent.

    Every input (model and discriminator, statistics, dataset, classifier set) is loaded and checked
    before anything is generated, and ``out`` is written last.
    """
    from genomekit.data import open_dataset
    from genomekit.pruning import prune_genome, pruning_plan
    from genomekit.training import load_discriminator, save_inference_checkpoint

    # 1. Load and check every input.
    analysis = load_analysis(model, stats_dir, device)
    V = analysis.G.latent.num_variants
    if not 0 <= count <= V // 2:
        raise UserError(
            f"the number of variants to replace per gene must be between 0 and V/2 = {V // 2} for this genome, "
            f"got {count}"
        )
    D = load_discriminator(model, device)
    measure = data is not None
    if measure:
        if num_samples < 2:
            raise UserError(f"the number of samples must be at least 2 for a Fréchet distance, got {num_samples}")
        dataset = open_dataset(data)
        if min(num_samples, len(dataset)) < 2:
            raise UserError(f"{data} has {len(dataset)} image(s); a Fréchet distance needs at least 2")
        classifiers = load_stats_classifiers(
            analysis.stats,
            classifiers_path,
            device,
            resolution=analysis.G.config.resolution,
            stats_dir=stats_dir,
            check_attributes=False,  # only its features are used
        )
    # 2. Plan, measure before, prune, measure after.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        realness = realness_given_variant(analysis.stats.totals.realness_sums, analysis.stats.totals.counts, 0)
    targets, sources = pruning_plan(realness, count)
    fd_before = fd_after = None
    if measure:
        n = min(num_samples, len(dataset))
        update = progress("prune: Fréchet distances", 3 * n) if progress is not None else None
        real_stats = _real_feature_stats(dataset, classifiers, n, seed, update)
        fd_before = _fd_to_real(analysis.G, classifiers, real_stats, seed, update)
    pruned = analysis.G
    prune_genome(pruned.latent, targets.to(device), sources.to(device))
    if measure:
        fd_after = _fd_to_real(pruned, classifiers, real_stats, seed, update)
    # 3. Write.
    record = {"count": count, "stats": str(stats_dir), "source_model": str(model)}
    save_inference_checkpoint(out, pruned, D, extra={"pruning": json.dumps(record)})
    return PruneResult(out=Path(out), count=count, fd_before=fd_before, fd_after=fd_after, samples=num_samples)


def _real_feature_stats(dataset, classifiers, n: int, seed: int, update: Callable[[int], object] | None = None):
    """Classifier-feature statistics of ``n`` real images of ``dataset`` drawn with ``seed``."""
    from genomekit.metrics.frechet import FeatureStats

    index = np.random.default_rng(seed).choice(len(dataset), n, replace=False)
    reals = torch.stack([dataset[int(i)] for i in index]).float() / 127.5 - 1
    _, real_feats = classify(classifiers, reals)
    if update is not None:
        update(n)
    return FeatureStats.from_features(real_feats)


def _fd_to_real(G, classifiers, real_stats, seed: int, update: Callable[[int], object] | None = None) -> float:
    """Fréchet distance (classifier features) between as many samples of G as real images and the reals."""
    from genomekit.metrics.frechet import FeatureStats, frechet_distance_from_stats

    seqs = G.latent.sample(real_stats.count, torch.Generator().manual_seed(seed)).cpu()
    _, fake_feats = classify(classifiers, render(G, seqs, on_batch=update))
    return frechet_distance_from_stats(FeatureStats.from_features(fake_feats), real_stats)
