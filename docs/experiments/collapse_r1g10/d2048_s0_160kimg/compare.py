"""d2048 seed 0 against the shipped Genome run (the same recipe and seed, D at 32 channels), snapshot by snapshot.

Usage, from the repository root: python docs/experiments/collapse_r1g10/d2048_s0_160kimg/compare.py RUN OUT [RERUN]
(RUN: the d2048-s0 run folder; the shipped run's snapshots come from docs/experiments/faces_r1, arm r1g10; RERUN: a
rerun of the shipped recipe and seed, e.g. section 5b's runs/avg/genome). All are read against RUN's health reference
(the first 1,024 training faces), 1,024 samples per snapshot.
"""

import glob
import sys

import pandas as pd

from analysis.train_report import read_metrics
from genomekit.training.health import GAP_TARGET, Reference

SHOWN = ["Wearing_Necklace", "Arched_Eyebrows", "Smiling", "Male"]


def snapshots(run: str, attributes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run's snapshots with health figures, and their sample frequencies (one column per attribute)."""
    rows = read_metrics(run)
    rows = rows[rows["sample_frequencies"].apply(lambda f: isinstance(f, dict))].reset_index(drop=True)
    return rows, pd.DataFrame(list(rows["sample_frequencies"]))[attributes]


def main() -> None:
    run, out = sys.argv[1], sys.argv[2]
    shipped = pd.read_csv("docs/experiments/faces_r1/summary.csv").query("arm == 'r1g10' and seed == 0")
    kept = pd.read_csv("docs/experiments/faces_r1/frequencies.csv").query("arm == 'r1g10' and seed == 0")
    attributes = list(kept.columns[3:])
    data = pd.Series(Reference.load(sorted(glob.glob(f"{run}/health_reference_*.npz"))[-1]).frequencies, attributes)
    rows = []
    runs = {"shipped (D 32 ch)": (shipped, kept[attributes]), "d2048 (D 64 ch)": snapshots(run, attributes)}
    if len(sys.argv) > 3:
        runs["rerun of shipped (D 32 ch)"] = snapshots(sys.argv[3], attributes)
    for name, (figures, frequencies) in runs.items():
        for (_, snap), (_, freq) in zip(figures.iterrows(), frequencies.iterrows(), strict=True):
            gaps = (freq.astype(float) - data).abs()
            rows.append({"run": name, "kimg": round(float(snap["kimg"])), "fd_cls": snap["fd_cls"],
                         "loss_D": snap["loss_D"], "freq_gap": gaps.max(), "freq_gap_attribute": gaps.idxmax(),
                         "within_target": int((gaps <= GAP_TARGET).sum()), "mean_gap": gaps.mean(),
                         **{a: float(freq[a]) for a in SHOWN}})  # fmt: skip
    table = pd.DataFrame(rows).query("kimg <= 160")
    table.to_csv(f"{out}/comparison.csv", index=False, float_format="%.4g")
    columns = ["fd_cls", "freq_gap", "mean_gap", "within_target", "loss_D"]
    print(table.pivot_table(index="kimg", columns="run", values=columns).round(3).to_string())
    print("data:", data[SHOWN].round(3).to_dict())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for column, axis in zip(["fd_cls", "mean_gap", "within_target", "Wearing_Necklace"], axes, strict=True):
        for name, group in table.groupby("run"):
            axis.plot(group["kimg"], group[column], marker="o", markersize=3, label=name)
        if column in data:
            axis.axhline(data[column], color="gray", linestyle="--", linewidth=0.8, label="data")
        axis.set_title(column, fontsize=9)
        axis.set_xlabel("kimg")
    axes[0].legend(fontsize=7)
    figure.suptitle(
        "seed 0, shipped recipe: D 32 channels (the shipped run, a rerun) against 64 (d2048); 1,024 samples", fontsize=9
    )
    figure.tight_layout()
    figure.savefig(f"{out}/comparison.png", dpi=110)


if __name__ == "__main__":
    main()
