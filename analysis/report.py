"""`genomekit report`: figures and tables that show which genes control which attributes.

From a stats directory (and optionally the model and a labelled dataset) it writes:
  scores.csv              tidy gene standard scores (gene, attribute, score, rank)
  top_genes.csv           the three most important genes of every attribute
  polar.png               StyleGenes Figures 2/13: genes around the circle, one colour per attribute,
                          each attribute labelled at its most important gene
  heatmap.png             genes x attributes scores
  correlation_generated.png / .csv   Pearson correlation of the classifier outputs over the samples
  correlation_real.png / .csv        the same over the dataset's labels (with --data), Appendix E
  gene_edit_<attr>.png    one base sample with the attribute's top gene swapped through variants,
                          beside the least important gene swapped the same way (with --model)
  index.md, index.html    a page linking everything
"""

from __future__ import annotations

import html
import logging
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.inputs import attribute_probabilities, check_genome_and_stats
from genomekit.fileio import atomic_path, atomic_write
from genomekit.inference import render
from genomekit.markdown import markdown_table
from genomekit.stats import Stats
from genomekit.stats.correlation import correlation_from_moments, moments, score_moments, variance_from_moments
from genomekit.stats.scores import gene_standard_scores, noise_floor, scores_frame

if TYPE_CHECKING:
    from genomekit.training.checkpoint import Checkpoint

logger = logging.getLogger(__name__)


def _figure(figsize: tuple[float, float]) -> Figure:
    """A figure drawn by its own Agg canvas: no pyplot, so no global backend and nothing to close."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path, dpi: int = 130) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=dpi, bbox_inches="tight")


def _write_csv(frame: pd.DataFrame, path: Path, index: bool = False) -> None:
    with atomic_write(path, "w") as f:
        frame.to_csv(f, index=index)


def attribute_colors(count: int) -> list:
    """Distinct colours for up to 40 attributes (tab20 then tab20b)."""
    palette = list(matplotlib.colormaps["tab20"].colors) + list(matplotlib.colormaps["tab20b"].colors)
    return [palette[i % len(palette)] for i in range(count)]


def polar_plot(
    scores: torch.Tensor, attributes: Sequence[str], path: Path, title: str = "", floor: float | None = None
) -> None:
    """Genes around the circle, one closed line per attribute at radius = score; labels at top genes.

    Args:
        scores: (G, A) gene standard scores.
        floor: drawn as a dashed ring: the score a gene without effect gets from sampling noise.
    """
    num_genes, num_attributes = scores.shape
    s = scores.numpy()
    angles = np.linspace(0, 2 * np.pi, num_genes, endpoint=False)
    closed = np.append(angles, angles[0])
    colors = attribute_colors(num_attributes)
    fig = _figure((11, 11))
    ax = fig.add_subplot(projection="polar")
    for a in range(num_attributes):
        ax.plot(closed, np.append(s[:, a], s[0, a]), color=colors[a], lw=1.1, alpha=0.85)
        top = int(s[:, a].argmax())
        ax.scatter([angles[top]], [s[top, a]], color=colors[a], s=18, zorder=3)
    # Each attribute is labelled at its most important gene. Attributes sharing a gene are stacked in one
    # column beside the highest of their points, highest score first, so their labels do not overlap.
    for gene, members in label_groups(s).items():
        theta, radius = angles[gene], max(s[gene, a] for a in members)
        right, up = np.cos(theta) >= 0, np.sin(theta) >= 0  # gene 0 points east; genes run anticlockwise
        shown = [(f"{attributes[a]} ({gene})", colors[a]) for a in members[:MAX_LABELS_PER_GENE]]
        if len(members) > MAX_LABELS_PER_GENE:
            more = len(members) - MAX_LABELS_PER_GENE
            shown.append((f"... and {more} more at gene {gene} (see the heatmap)", "black"))
        for line, (text, color) in enumerate(shown):
            ax.annotate(
                text,
                xy=(theta, radius),
                xytext=(6 if right else -6, 4 + 8 * line if up else -4 - 8 * line),
                textcoords="offset points",
                fontsize=7,
                color=color,
                ha="left" if right else "right",
                va="bottom" if up else "top",
            )
    if floor is not None:
        ring = np.linspace(0, 2 * np.pi, 200)
        ax.plot(ring, np.full_like(ring, floor), "k--", lw=1, label=f"noise floor {floor:.2f}")
        ax.legend(loc="lower left", bbox_to_anchor=(-0.05, -0.05), fontsize=8)
    step = max(1, num_genes // 32)
    ax.set_xticks(angles[::step])
    ax.set_xticklabels([str(g) for g in range(0, num_genes, step)], fontsize=7)
    ax.set_ylim(0, s.max() * 1.25 if s.max() > 0 else 1)
    ax.set_title(title or "Gene standard scores: which genes move which attributes", pad=24)
    _save(fig, path)


MAX_LABELS_PER_GENE = 10


def label_groups(scores: np.ndarray) -> dict[int, list[int]]:
    """Attributes grouped by their top gene: {gene: [attribute indices, highest score first]}."""
    groups: dict[int, list[int]] = {}
    for a in range(scores.shape[1]):
        groups.setdefault(int(scores[:, a].argmax()), []).append(a)
    return {g: sorted(m, key=lambda a: -scores[g, a]) for g, m in groups.items()}


def score_heatmap(scores: torch.Tensor, attributes: Sequence[str], path: Path) -> None:
    """Genes (rows) x attributes (columns) heatmap of the scores."""
    import seaborn as sns

    num_genes, num_attributes = scores.shape
    fig = _figure((max(8, num_attributes * 0.32), max(6, num_genes * 0.14)))
    ax = fig.subplots()
    sns.heatmap(
        pd.DataFrame(scores.numpy(), columns=list(attributes)),
        ax=ax,
        cmap="viridis",
        cbar_kws={"label": "gene standard score"},
    )
    ax.set_xlabel("attribute")
    ax.set_ylabel("gene")
    ax.tick_params(axis="x", labelsize=7)
    ax.tick_params(axis="y", labelsize=6)
    _save(fig, path)


def correlation_heatmap(corr: pd.DataFrame, path: Path, title: str) -> None:
    """Attribute x attribute Pearson correlations (Appendix E, Figure 14)."""
    import seaborn as sns

    size = max(7, len(corr) * 0.3)
    fig = _figure((size, size * 0.85))
    ax = fig.subplots()
    sns.heatmap(corr, ax=ax, cmap="RdBu_r", vmin=-1, vmax=1, square=True, cbar_kws={"shrink": 0.7})
    ax.set_title(title)
    ax.tick_params(labelsize=7)
    _save(fig, path)


def real_correlation(data: str | Path, attributes: Sequence[str]) -> pd.DataFrame | None:
    """Correlation of a dataset's labels for the statistics' attributes (None when it has no labels)."""
    from classifiers.attributes import normalize_attribute_name
    from genomekit.data import open_dataset

    dataset = open_dataset(data)
    if dataset.labels is None:
        return None
    columns = {normalize_attribute_name(n): i for i, n in enumerate(dataset.attribute_names)}
    keep = [
        (name, columns[normalize_attribute_name(name)])
        for name in attributes
        if normalize_attribute_name(name) in columns
    ]
    if not keep:
        return None
    labels = dataset.labels[:, [i for _, i in keep]].to(torch.float64).numpy()
    return correlation_from_moments(*moments(labels), [n for n, _ in keep])


@torch.no_grad()
def gene_edit_figure(
    G,
    base: torch.Tensor,
    p_attr: torch.Tensor,
    scores: torch.Tensor,
    attribute_index: int,
    attribute: str,
    path: Path,
    num_variants: int = 7,
) -> tuple[int, int]:
    """The paper's Figure 2 (right): swap the attribute's top gene through variants ordered by
    p(a | variant), beside the least important gene swapped through evenly spaced variants.

    Args:
        G: a Genome generator.
        base: (G,) the base gene sequence.
        p_attr: (G, V, A) estimates; scores: (G, A).
    Returns:
        (top gene, least important gene).
    """
    top = int(scores[:, attribute_index].argmax())
    low = int(scores[:, attribute_index].argmin())
    p = torch.nan_to_num(p_attr[top, :, attribute_index], nan=0.5)
    ranked = torch.argsort(p)  # (V,) least to most likely
    picks_top = ranked[torch.linspace(0, len(ranked) - 1, num_variants).round().long()]
    picks_low = torch.linspace(0, p_attr.shape[1] - 1, num_variants).round().long()
    rows = []
    for gene, picks in ((top, picks_top), (low, picks_low)):
        seqs = base.unsqueeze(0).repeat(num_variants, 1)
        seqs[:, gene] = picks.to(seqs.device)
        rows.append(render(G, seqs).clamp(-1, 1))  # (num_variants, C, H, W)
    fig = _figure((1.6 * num_variants, 3.8))
    axes = fig.subplots(2, num_variants, squeeze=False)
    for r, (gene, picks, images) in enumerate(zip((top, low), (picks_top, picks_low), rows, strict=True)):
        for c in range(num_variants):
            ax = axes[r, c]
            ax.imshow(((images[c].permute(1, 2, 0) + 1) / 2).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            value = p_attr[gene, picks[c], attribute_index].item()
            ax.set_title(f"v{int(picks[c])}  p={value:.2f}", fontsize=7)
        axes[r, 0].set_ylabel(f"gene {gene}\n({'top' if r == 0 else 'least'})", fontsize=8)
    fig.suptitle(f"{attribute}: top gene {top} vs least important gene {low}", fontsize=10)
    _save(fig, path)
    return top, low


@dataclass(frozen=True)
class ReportResult:
    out: Path
    files: tuple[str, ...]
    spread: str = ""  # how the attributes' top genes spread over the genome (``top_gene_spread``)


def top_gene_spread(frame: pd.DataFrame) -> tuple[int, int, int]:
    """(distinct top genes over the attributes, the gene that is the top gene of the most, how many).

    ``frame`` is ``scores_frame``'s: one row per (attribute, gene) with its ``rank`` (1 = top gene).
    Ties go to the lower gene index."""
    counts = frame.loc[frame["rank"] == 1, "gene"].value_counts()
    most = int(counts.max())
    return len(counts), int(counts[counts == most].index.min()), most


def _spread_sentence(frame: pd.DataFrame, attributes: int) -> str:
    distinct, gene, most = top_gene_spread(frame)
    return (f"Top genes: {distinct} distinct over the {attributes} attributes; gene {gene} is the top gene of "
            f"{most} of them ({most / attributes:.0%}).")  # fmt: skip


def write_report(
    stats: Stats,
    out: str | Path,
    *,
    model: Checkpoint | None = None,
    data: str | Path | None = None,
    edit_attributes: Sequence[str] = (),
    device: str = "cpu",
    seed: int = 0,
    min_count: int = 50,
    allow_other_model: bool = False,
    progress: Callable[[str, int], Callable[[int], object]] | None = None,
) -> ReportResult:
    """Write the report of loaded statistics into ``out`` (see the module docstring for the files).

    Args:
        stats: a complete stats directory from `genomekit collect-stats`, loaded (``load_stats``); its
            shards are read again for the attribute correlations.
        out: output directory.
        model: the checkpoint the statistics came from, for gene-edit figures: a Genome model of the
            statistics' genome shape and model identity (see ``allow_other_model``).
        data: a labelled dataset, for the real-label correlation matrix.
        edit_attributes: attribute names for gene-edit figures (forgiving matching; default: the four
            whose top gene scores highest).
        seed: fixes the base sample of the gene-edit figures.
        allow_other_model: accept a model of another identity (e.g. pruned from the one measured).
        progress: ``progress(description, total)`` returns ``update(n)``: called for the shards read
            (n = samples) and, with ``model``, for the gene-edit images (n = images). None = silent.

    Every input (model, attribute names, dataset) is checked before anything is written.
    """
    from classifiers.attributes import resolve_attributes

    # 1. Check every input.
    if stats.directory is None:
        raise ValueError("the report reads the statistics' shards: give statistics loaded with load_stats(directory)")
    stats_dir, out = Path(stats.directory), Path(out)
    attributes = list(stats.attributes)
    G = None
    if model is not None:
        check_genome_and_stats(model, stats, allow_other_model, "drawing gene-edit figures")
        G = model.generator(device)
        edit_attributes = list(resolve_attributes(list(edit_attributes), attributes))
    corr_real = real_correlation(data, attributes) if data is not None else None

    # 2. Compute.
    p_attr = attribute_probabilities(stats)  # under-sampled variants are listed in the page instead
    scores = gene_standard_scores(p_attr)
    on_shard = progress("report: reading shards", stats.samples) if progress is not None else None
    count, total, outer = score_moments(stats_dir, stats.manifest, attributes, on_shard)
    variance = torch.from_numpy(variance_from_moments(count, total, outer))  # (A,)
    floors = noise_floor(p_attr, stats.totals.counts, variance)  # (A,)

    # 3. Write.
    files: list[str] = []
    out.mkdir(parents=True, exist_ok=True)
    frame = scores_frame(scores, attributes)
    frame["noise_floor"] = frame["attribute"].map(dict(zip(attributes, floors.tolist(), strict=True)))
    _write_csv(frame, out / "scores.csv")
    top = frame[frame["rank"] <= 3]
    _write_csv(top, out / "top_genes.csv")
    files += ["scores.csv", "top_genes.csv"]
    polar_plot(scores, attributes, out / "polar.png", floor=float(floors.max()))
    score_heatmap(scores, attributes, out / "heatmap.png")
    files += ["polar.png", "heatmap.png"]

    corr_gen = correlation_from_moments(count, total, outer, attributes)
    _write_csv(corr_gen, out / "correlation_generated.csv", index=True)
    correlation_heatmap(corr_gen, out / "correlation_generated.png", f"Generated samples (N={stats.samples:,})")
    files += ["correlation_generated.csv", "correlation_generated.png"]
    if corr_real is not None:
        _write_csv(corr_real, out / "correlation_real.csv", index=True)
        correlation_heatmap(corr_real, out / "correlation_real.png", f"Real labels ({Path(data).name})")
        files += ["correlation_real.csv", "correlation_real.png"]

    edits: list[tuple[str, str, int, int]] = []
    if G is not None:
        if not edit_attributes:
            best = scores.max(dim=0).values
            edit_attributes = [attributes[i] for i in torch.argsort(best, descending=True)[:4].tolist()]
        per_figure = 2 * EDIT_VARIANTS  # the top gene's row and the least important gene's row
        on_edit = progress("report: gene edits", per_figure * len(edit_attributes)) if progress is not None else None
        base = G.sample_codes(1, torch.Generator().manual_seed(seed))[0].cpu()
        for name in edit_attributes:
            index = attributes.index(name)
            file = f"gene_edit_{name}.png"
            g_top, g_low = gene_edit_figure(G, base, p_attr, scores, index, name, out / file, EDIT_VARIANTS)
            edits.append((name, file, g_top, g_low))
            files.append(file)
            if on_edit is not None:
                on_edit(per_figure)

    counts = stats.totals.counts
    low_variants = int((counts < min_count).sum())
    spread = _spread_sentence(frame, len(attributes))
    _write_pages(out, stats_dir, stats, attributes, top, corr_real is not None, edits, low_variants, min_count, spread)
    files += ["index.md", "index.html"]
    return ReportResult(out=out, files=tuple(files), spread=spread)


EDIT_VARIANTS = 7  # variants per row of a gene-edit figure


def _write_pages(out, stats_dir, stats, attributes, top, has_real, edits, low_variants, min_count, spread) -> None:
    """index.md and index.html: the same text, images and top-genes table, each from its template."""
    g, v, d = stats.genome_shape
    text = {
        "summary": f"Statistics: `{stats_dir}`: {stats.samples:,} samples, genome {g} genes x {v} variants x {d}, "
        f"{len(attributes)} attributes. Variants seen fewer than {min_count} times: {low_variants}.",
        "score_note": "Gene standard score: the mean over a gene's variants of |p(a | variant) - the gene's mean| "
        "divided by the standard deviation of p(a | variant) over the whole codebook (see `genomekit.stats.scores`).",
        "spread": spread,
        "floor_note": "The noise floor is the score a gene without effect gets from sampling noise alone at this "
        "sample count (`genomekit.stats.scores.noise_floor`); a top gene near its floor is not distinguishable "
        "from noise: collect more samples.",
    }
    table = _top_genes_table(top, attributes)
    correlations = [("generated", "correlation_generated.png")]  # (alt text, file)
    if has_real:
        correlations.append(("real labels", "correlation_real.png"))

    md_edits = "".join(
        f"**{name}**: gene {g_top} (top) vs gene {g_low} (least important)\n\n![{name}]({file})\n\n"
        for name, file, g_top, g_low in edits
    )
    markdown = _MARKDOWN_PAGE.substitute(
        text,
        top_genes=markdown_table(table),
        correlations="".join(f"![{alt}]({src})\n\n" for alt, src in correlations),
        edits=f"## Gene edits\n\n{md_edits}" if edits else "",
    )
    with atomic_write(out / "index.md", "w") as f:
        f.write(markdown)

    html_edits = "".join(
        f"<p><strong>{html.escape(name)}</strong>: gene {g_top} (top) vs gene {g_low} (least important)</p>\n"
        + _html_image(name, file)
        for name, file, g_top, g_low in edits
    )
    page = _HTML_PAGE.substitute(
        {key: html.escape(value) for key, value in text.items()},
        top_genes=table.to_html(index=False, border=1),
        correlations="".join(_html_image(alt, src) for alt, src in correlations),
        edits=f"<h2>Gene edits</h2>\n{html_edits}" if edits else "",
    )
    with atomic_write(out / "index.html", "w") as f:
        f.write(page)


def _top_genes_table(top: pd.DataFrame, attributes: Sequence[str]) -> pd.DataFrame:
    """One row of text cells per attribute: its noise floor and its top three genes as "gene (score)"."""
    rows = []
    for name in attributes:
        ranked = top[top["attribute"] == name].sort_values("rank")
        cells = [f"{int(r.gene)} ({r.score:.2f})" for r in ranked.itertuples()]
        floor = ranked["noise_floor"].iloc[0] if len(ranked) else float("nan")
        rows.append([name, f"{floor:.2f}", *cells, *[""] * (3 - len(cells))])
    return pd.DataFrame(rows, columns=["attribute", "noise floor", "gene (score)", "2nd", "3rd"])


def _html_image(alt: str, src: str) -> str:
    return f'<p><img src="{html.escape(src)}" alt="{html.escape(alt)}" style="max-width:100%"></p>\n'


_MARKDOWN_PAGE = string.Template(
    """# Genome report

$summary

$score_note

## Which genes control which attributes

![polar plot](polar.png)

![heatmap](heatmap.png)

## Top genes per attribute

$spread

$floor_note

$top_genes

## Attribute correlations

$correlations$edits"""
)

_HTML_PAGE = string.Template(
    """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Genome report</title>
<style>table.dataframe { border-collapse: collapse } table.dataframe th, table.dataframe td { padding: 3px }</style>
</head>
<body>
<h1>Genome report</h1>
<p>$summary</p>
<p>$score_note</p>
<h2>Which genes control which attributes</h2>
<p><img src="polar.png" alt="polar plot" style="max-width:100%"></p>
<p><img src="heatmap.png" alt="heatmap" style="max-width:100%"></p>
<h2>Top genes per attribute</h2>
<p>$spread</p>
<p>$floor_note</p>
$top_genes
<h2>Attribute correlations</h2>
$correlations$edits</body>
</html>
"""
)
