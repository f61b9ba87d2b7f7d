"""The tables of docs/GENOME_HEALTH.md sections 3d, 5e, 5f from measure.sh's health5k_ARM_sSEED.txt / .csv files:
one row per run (FD_cls, diversity, attributes within 0.08, mean and largest frequency gap, top gene and its share),
one per arm (the mean over its seeds), and for each arm but `genome` the difference of its mean and genome's with
its standard error (sqrt(s1^2 / n1 + s2^2 / n2), the seeds' spread within each arm), written to summary.csv and
printed; and curves_ARM.png, the arm's and genome's FD and attributes within 0.08 at every snapshot (1,024 samples
each) from the collapse report's summary.csv one folder up.

    python docs/experiments/collapse_r1g10/mbstd32/summarise.py docs/experiments/collapse_r1g10/mbstd32
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

PATTERNS = {
    "fd_cls": r"^FD_cls ([\d.]+)",
    "diversity": r"^diversity ([\d.]+)",
    "largest_gap": r"largest attribute-frequency gap ([\d.]+)",
    "largest_gap_attribute": r"largest attribute-frequency gap [\d.]+: (\w+)",
    "within_target": r"; (\d+) of 40 attributes within",
    "top_gene": r"^top gene (\d+):",
    "top_gene_share": r"^top gene \d+: ([\d.]+)%",
}


def read_run(text_file: Path) -> dict:
    arm, seed = text_file.stem.removeprefix("health5k_").rsplit("_s", 1)
    text = text_file.read_text()
    row: dict = {"arm": arm, "seed": int(seed)}
    for column, pattern in PATTERNS.items():
        match = re.search(pattern, text, flags=re.MULTILINE)
        value = match.group(1) if match else None
        row[column] = value if value is None or column == "largest_gap_attribute" else float(value)
    row["mean_gap"] = pd.read_csv(text_file.with_suffix(".csv"))["gap"].mean()
    return row


def main(folder: Path) -> None:
    from genomekit.fileio import atomic_write

    runs = pd.DataFrame([read_run(path) for path in sorted(folder.glob("health5k_*_s*.txt"))])
    numeric = ["fd_cls", "diversity", "within_target", "mean_gap", "largest_gap", "top_gene_share"]
    grouped = runs.groupby("arm", sort=False)[numeric]
    means, spread = grouped.mean(), grouped.var() / grouped.count()
    arms = means.reset_index()
    arms["seed"] = "mean of " + grouped.size().astype(str).to_numpy()
    others = [arm for arm in runs["arm"].unique() if arm != "genome"]
    differences = []
    for arm in others:
        difference = pd.DataFrame([means.loc[arm] - means.loc["genome"],
                                   (spread.loc[arm] + spread.loc["genome"]) ** 0.5])  # fmt: skip
        difference.insert(0, "arm", f"{arm} - genome")
        difference.insert(1, "seed", ["difference", "its standard error"])
        differences.append(difference)
    table = pd.concat([runs, arms, *differences], ignore_index=True)
    table = table[["arm", "seed", *numeric, "largest_gap_attribute", "top_gene"]]
    with atomic_write(folder / "summary.csv", "w") as f:
        table.to_csv(f, index=False, float_format="%.4g")
    print(table.to_string(index=False))
    for arm in others:
        plot_curves(folder.parent / "summary.csv", arm, folder / f"curves_{arm}.png")


def plot_curves(report_summary: Path, arm: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = pd.read_csv(report_summary)
    rows = rows[rows["arm"].isin(["genome", arm]) & (rows["kimg"] <= 100.05)]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for (name, seed), run in rows.groupby(["arm", "seed"]):
        style = {"color": f"C{seed}", "linestyle": "-" if name == "genome" else "--", "marker": "o", "markersize": 3}
        for axis, column in zip(axes, ["fd_cls", "within_target"], strict=True):
            axis.plot(run["kimg"], run[column], label=f"{name} s{seed}", **style)
    axes[0].set(xlabel="kimg", ylabel="FD_cls (1,024 samples)", ylim=(140, 480))
    axes[1].set(xlabel="kimg", ylabel="attributes within 0.08 (of 40)")
    axes[0].legend(fontsize=7, ncol=2)
    figure.suptitle(f"genome, the shipped recipe (solid), against {arm} (dashed); same seed, same colour", fontsize=10)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
