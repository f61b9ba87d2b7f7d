"""Issue 13: does averaging a run's snapshots (`genomekit average`) bring the attribute frequencies to the data's?

At genomekit's CPU scale the frequencies of a run's samples swing over ~100-150 kimg
(docs/GENOME_HEALTH.md section 5), and a run's last G_ema is wherever the swing stands. For each run
(trained with ``--keep-snapshots``), each window end E in ``--ends`` and each width W in ``--widths``
(kimg; 0 is the snapshot at E alone, i.e. plain G_ema), this averages the snapshots from E - W to E
and measures the result as ``genomekit metrics health`` does: FD on classifier features, diversity,
the largest attribute-frequency gap and how many of the 40 attributes are within 0.08 of the data's,
and for a Genome the top gene's share of the style variance. Every model gets the same codes.

    python scripts/snapshot_averaging_experiment.py --runs runs/avg/genome,runs/avg/mapping \\
        --data runs/collapse10/faces32.zip --ends 100,130,160 --widths 0,20,40,80 --samples 5000 --out OUT

writes OUT/averaging.csv (one row per run, end and width), OUT/frequencies.csv (every attribute's
frequency per model) and OUT/averaging.png.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch
from experiment_runs import refuse

from classifiers import load_classifier_set
from genomekit.data import open_dataset
from genomekit.fileio import atomic_write
from genomekit.training import load_generator
from genomekit.training.averaging import average_snapshots, run_snapshots, select_snapshots
from genomekit.training.health import GAP_TARGET, measure_health


def floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def measure_window(run: Path, end: float, width: float, classifier_set, dataset, samples: int, cache: Path) -> tuple:
    """Health figures of the average of ``run``'s snapshots from ``end - width`` to ``end``."""
    paths = select_snapshots(run, max(end - width, 0.0), end)
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "average.safetensors"
        average_snapshots(paths, model)
        G = load_generator(model, device="cpu")
        health = measure_health(G, classifier_set, dataset, samples, cache_dir=cache)
    figures, table = health.figures, health.frequencies
    worst = table.iloc[0]
    row = {
        "run": str(run),
        "end_kimg": end,
        "width_kimg": width,
        "snapshots": len(paths),
        "fd_cls": figures["fd_cls"],
        "diversity": figures["diversity"],
        "freq_gap": worst.gap,
        "freq_gap_attribute": worst.attribute,
        "within": int((table["gap"] <= GAP_TARGET).sum()),
        "mean_gap": float(table["gap"].mean()),
        "top_gene_share": figures.get("top_gene_share"),
    }
    freq = table.assign(run=str(run), end_kimg=end, width_kimg=width)
    return row, freq


def plot(summary: pd.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("within", f"attributes within {GAP_TARGET}"), ("mean_gap", "mean frequency gap"), ("fd_cls", "FD_cls")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4))
    for ax, (column, title) in zip(axes, panels, strict=True):
        for (run, end), part in summary.groupby(["run", "end_kimg"]):
            part = part.sort_values("width_kimg")
            ax.plot(part["width_kimg"], part[column], marker="o", label=f"{Path(run).name} @ {end:g} kimg")
        ax.set_xlabel("averaging window (kimg; 0 = G_ema alone)")
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", required=True, help="comma-separated run directories with kept snapshots")
    parser.add_argument("--data", required=True, type=Path, help="the training images (zip or folder)")
    parser.add_argument("--ends", required=True, type=floats, help="window ends, kimg (comma-separated)")
    parser.add_argument("--widths", default=[0, 20, 40, 80], type=floats, help="window widths, kimg")
    parser.add_argument("--samples", type=int, default=5000, help="generated (and real) images per model")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    runs = [Path(part) for part in args.runs.split(",") if part.strip()]
    for run in runs:
        if not run_snapshots(run):
            refuse(f"{run} has no kept snapshots (train with --keep-snapshots)")
    if not args.data.exists():
        refuse(f"--data {args.data} not found")
    if args.samples < 2:
        refuse(f"--samples must be at least 2, got {args.samples}")
    if min(args.ends + args.widths) < 0:
        refuse("--ends and --widths are kimg, at least 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = open_dataset(args.data)
    classifier_set = load_classifier_set("default", device="cpu", resolution=dataset.resolution)
    rows, tables = [], []
    for run in runs:
        for end in args.ends:
            for width in args.widths:
                row, freq = measure_window(run, end, width, classifier_set, dataset, args.samples, args.out / "cache")
                rows.append(row)
                tables.append(freq)
                print(f"{run.name} end {end:g} width {width:g} ({row['snapshots']} snapshots): "
                      f"FD {row['fd_cls']:.1f}  within {row['within']}/40  largest gap {row['freq_gap']:.3f} "
                      f"({row['freq_gap_attribute']})  mean gap {row['mean_gap']:.4f}", flush=True)  # fmt: skip
    summary = pd.DataFrame(rows)
    with atomic_write(args.out / "averaging.csv", "w") as f:
        summary.to_csv(f, index=False, float_format="%.5g")
    with atomic_write(args.out / "frequencies.csv", "w") as f:
        pd.concat(tables).to_csv(f, index=False, float_format="%.5g")
    plot(summary, args.out / "averaging.png")
    print(f"wrote {args.out / 'averaging.csv'}, frequencies.csv and averaging.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
