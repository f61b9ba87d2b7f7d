"""`genomekit train-report RUN`: a training run's health over time, from its metrics.jsonl.

One figure (``train_report.png``) with a panel per question: are the losses sane, does quality
improve (FD on classifier features), do the samples stay diverse (pairwise feature distance against
the reals'), are attributes generated as often as the data has them (largest frequency gap), and
does one gene take over the genome (style-variance share per gene, top gene's share), and which
attribute frequencies swing (the attributes whose share of samples varies most over the second half
of training, beside the data's share). And a short Markdown summary (``train_report.md``) of the
first and last snapshots and of those swings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genomekit.errors import UserError
from genomekit.fileio import atomic_path, atomic_write
from genomekit.markdown import markdown_table

SUMMARY_COLUMNS = ("kimg", "loss_G", "loss_D", "fd_cls", "diversity", "freq_gap", "top_gene", "top_gene_share")
SWINGS = 4  # attributes in the frequency panel and the summary


@dataclass(frozen=True)
class TrainReport:
    rows: pd.DataFrame
    figure: Path
    summary: Path


def read_metrics(run: str | Path) -> pd.DataFrame:
    """The snapshot rows of a run's metrics.jsonl, in order; a UserError when there are none."""
    path = Path(run) / "metrics.jsonl"
    if not path.is_file():
        raise UserError(
            f"{run} is not a training run directory (no metrics.jsonl); give the --out of `genomekit train`"
        )
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:
                raise UserError(f"{path}: line {number} is not JSON") from None
    if not rows:
        raise UserError(f"{path} has no snapshot yet; wait for the first snapshot (--snap) of the run")
    return pd.DataFrame(rows)


def frequency_swings(rows: pd.DataFrame) -> pd.DataFrame:
    """How far each attribute's share of samples moves over the second half of training.

    Args:
        rows: ``read_metrics``' snapshots; those without ``sample_frequencies`` are skipped.
    Returns:
        One row per attribute: ``low``, ``high`` and ``swing`` (high - low) of its frequency over the
        snapshots at or after half the last snapshot's kimg; the largest swing first. Empty without
        sample figures.
    """
    if "sample_frequencies" not in rows:
        return pd.DataFrame(columns=["attribute", "low", "high", "swing"])
    snapshots = rows[rows["sample_frequencies"].apply(lambda f: isinstance(f, dict))]
    late = snapshots[snapshots["kimg"] >= rows["kimg"].max() / 2]
    frequencies = pd.DataFrame(list(late["sample_frequencies"]))  # (snapshots, A)
    table = pd.DataFrame({"low": frequencies.min(), "high": frequencies.max()})
    table["swing"] = table["high"] - table["low"]
    table = table.rename_axis("attribute").reset_index()
    return table.sort_values("swing", ascending=False, kind="stable", ignore_index=True)


def genome_concentration(rows: pd.DataFrame) -> pd.DataFrame:
    """How concentrated the genome is at each snapshot, beyond the top gene's share.

    Args:
        rows: ``read_metrics``' snapshots; those without ``gene_style_share`` (mapping runs) are skipped.
    Returns:
        One row per Genome snapshot: ``kimg``; ``effective_genes``, the participation ratio
        1 / sum(s_i^2) of the style shares s_i normalised to sum 1 (the number of genes an even split
        would need for the same concentration: G when even, 1 when one gene carries all);
        ``spread_ratio``, the top gene's variant spread over the median spread of the others; and
        ``leader_since``, the first kimg from which the last snapshot's top gene stays on top.
    """
    columns = ["kimg", "effective_genes", "spread_ratio", "leader_since"]
    if "gene_style_share" not in rows:
        return pd.DataFrame(columns=columns)
    genome = rows[rows["gene_style_share"].apply(lambda v: isinstance(v, list))]
    if genome.empty:
        return pd.DataFrame(columns=columns)
    shares = np.array(list(genome["gene_style_share"]), dtype=float)
    shares /= shares.sum(axis=1, keepdims=True)
    spreads = np.array(list(genome["gene_spread"]), dtype=float)
    top = shares.argmax(axis=1)
    others = np.ones_like(spreads, dtype=bool)
    others[np.arange(len(top)), top] = False
    median_others = np.median(spreads[others].reshape(len(top), -1), axis=1)
    kimg = genome["kimg"].to_numpy(float)
    changes = np.flatnonzero(top != top[-1])
    leader_since = kimg[changes[-1] + 1] if len(changes) else kimg[0]
    return pd.DataFrame({"kimg": kimg, "effective_genes": 1.0 / (shares**2).sum(axis=1),
                         "spread_ratio": spreads[np.arange(len(top)), top] / median_others,
                         "leader_since": leader_since})  # fmt: skip


def data_frequencies(run: Path, attributes: list[str]) -> dict[str, float]:
    """The training images' attribute frequencies from the run's cached health reference, if there is one."""
    from genomekit.training.health import Reference

    cached = sorted(run.glob("health_reference_*.npz"))
    if not cached:
        return {}
    frequencies = Reference.load(cached[-1]).frequencies
    return dict(zip(attributes, frequencies.tolist(), strict=True)) if len(frequencies) == len(attributes) else {}


def within_target(rows: pd.DataFrame, run: str | Path) -> pd.Series:
    """Per snapshot of ``rows`` (``read_metrics``), how many attributes' sample frequencies lie within
    ``GAP_TARGET`` of the training images' (from the run's health reference); NaN for a snapshot without
    frequencies, or all NaN when the run has no reference."""
    from genomekit.training.health import GAP_TARGET

    def count(frequencies) -> float:
        if not isinstance(frequencies, dict) or not data:
            return np.nan
        return float(sum(abs(frequencies[a] - value) <= GAP_TARGET for a, value in data.items()))

    if "sample_frequencies" not in rows:
        return pd.Series(np.nan, rows.index)
    names = next((list(f) for f in rows["sample_frequencies"] if isinstance(f, dict)), [])
    data = data_frequencies(Path(run), names) if names else {}
    return rows["sample_frequencies"].apply(count)


def write_train_report(run: str | Path, out: str | Path | None = None) -> TrainReport:
    """Plot and summarise the health of the run in ``run`` into ``out`` (default: the run directory)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = read_metrics(run)
    out = Path(run) if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kimg = rows["kimg"].to_numpy(float)
    panels = [("losses", ["loss_G", "loss_D"]), ("fd_cls", ["fd_cls"]), ("diversity", ["diversity"]),
              ("freq_gap", ["freq_gap"]), ("genes", ["gene_style_share"]),
              ("frequencies", ["sample_frequencies"])]  # fmt: skip
    panels = [(name, cols) for name, cols in panels if any(c in rows for c in cols)]
    columns = min(3, len(panels))
    lines = -(-len(panels) // columns)
    figure = Figure(figsize=(4.4 * columns, 3.4 * lines), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(lines, columns, squeeze=False).reshape(-1)
    for spare in axes[len(panels) :]:
        spare.set_axis_off()
    for ax, (name, columns) in zip(axes, panels, strict=False):
        if name == "genes":
            _gene_panel(ax, kimg, rows)
            continue
        if name == "frequencies":
            _frequency_panel(ax, Path(run), rows)
            continue
        for column in columns:
            if column in rows:
                ax.plot(kimg, rows[column].to_numpy(float), marker="o", markersize=3, label=column)
        titles = {
            "losses": "losses (G non-saturating, D logistic)",
            "fd_cls": "FD on classifier features to the data (lower is better)",
            "diversity": "diversity: pairwise distance / reals' (1 = as diverse)",
            "freq_gap": "largest attribute-frequency gap to the data",
        }
        ax.set_title(titles[name], fontsize=8)
        if name == "diversity":
            ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        if name == "losses":
            ax.legend(fontsize=7)
        ax.set_xlabel("kimg")
    figure_path = out / "train_report.png"
    with atomic_path(figure_path) as tmp:
        figure.savefig(tmp, dpi=110, format="png")
    summary_path = out / "train_report.md"
    with atomic_write(summary_path, "w") as f:
        f.write(_summary(run, rows))
    return TrainReport(rows=rows, figure=figure_path, summary=summary_path)


def _gene_panel(ax, kimg: np.ndarray, rows: pd.DataFrame) -> None:
    """Each gene's share of the style variance over training; the top gene of the last snapshot in colour."""
    shares = np.array([s if isinstance(s, list) else [np.nan] for s in rows["gene_style_share"]], dtype=float)
    last = int(np.nanargmax(shares[-1]))
    for gene in range(shares.shape[1]):
        if gene != last:
            ax.plot(kimg, shares[:, gene], color="lightgrey", linewidth=0.8)
    ax.plot(kimg, shares[:, last], color="crimson", linewidth=1.6, label=f"gene {last} (top at the end)")
    ax.axhline(1 / shares.shape[1], color="black", linewidth=0.8, linestyle="--", label="equal share")
    ax.set_title("share of the style variance per gene", fontsize=8)
    ax.set_xlabel("kimg")
    ax.legend(fontsize=7)


def _frequency_panel(ax, run: Path, rows: pd.DataFrame) -> None:
    """The SWINGS attributes whose frequency moves most late in training; dashed: the data's frequency."""
    snapshots = rows[rows["sample_frequencies"].apply(lambda f: isinstance(f, dict))]
    frequencies = pd.DataFrame(list(snapshots["sample_frequencies"]))
    data = data_frequencies(run, list(frequencies.columns))
    kimg = snapshots["kimg"].to_numpy(float)
    for index, attribute in enumerate(frequency_swings(rows)["attribute"][:SWINGS]):
        ax.plot(kimg, frequencies[attribute].to_numpy(float), color=f"C{index}", marker="o", markersize=3,
                label=attribute)  # fmt: skip
        if attribute in data:
            ax.axhline(data[attribute], color=f"C{index}", linewidth=0.8, linestyle="--")
    ax.set_title("attribute frequency of samples (dashed: the data's)", fontsize=8)
    ax.set_xlabel("kimg")
    ax.legend(fontsize=7)


def _summary(run, rows: pd.DataFrame) -> str:
    columns = [c for c in SUMMARY_COLUMNS if c in rows]
    table = rows.iloc[[0, -1]][columns] if len(rows) > 1 else rows[columns]
    lines = [f"# Training run {run}", "", f"{len(rows)} snapshots, up to {rows['kimg'].iloc[-1]:g} kimg.", ""]
    lines.append(markdown_table(table.round(4)))
    if "freq_gap_attribute" in rows:
        lines += ["", f"Largest frequency gap at the last snapshot: {rows['freq_gap_attribute'].iloc[-1]}."]
    swings = frequency_swings(rows)[:SWINGS]
    if len(swings):
        moves = "; ".join(f"{r.attribute} {r.low:.0%} to {r.high:.0%}" for r in swings.itertuples())
        lines += ["", f"Largest frequency swings over the second half of training: {moves}."]
    lines += ["", "![health over training](train_report.png)", ""]
    return "\n".join(lines)
