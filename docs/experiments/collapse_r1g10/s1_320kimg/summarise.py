"""The table of docs/GENOME_HEALTH.md section 3e: one row per folder that measure.sh filled (the model card's figures
of one 320-kimg run), plus the shipped Genome's card folder (docs/experiments/pair_r1g10/card), whose files have the
card's names. Writes summary.csv beside this script and prints it.

    .venv/bin/python docs/experiments/collapse_r1g10/s1_320kimg/summarise.py NAME=FOLDER [NAME=FOLDER ...]
"""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from analysis.conditional import falling_cells  # noqa: E402
from genomekit.training.health import GAP_TARGET  # noqa: E402

HERE = Path(__file__).parent


def first_file(folder: Path, *names: str) -> Path:
    """The first of ``names`` under ``folder`` that exists (measure.sh's names, then the model card's)."""
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"error: {folder} has none of {', '.join(names)}")


def table4(path: Path) -> dict:
    table = pd.read_csv(path)
    means = table.groupby("temperature")["accuracy"].mean()
    falls = falling_cells(table)
    return {"table4_t1": means[1.0], "table4_t05": means[0.5], "table4_t03": means[0.3],
            "falling": len(falls), "falling_cells": "; ".join(falls) or "none"}  # fmt: skip


def figures(folder: Path) -> dict:
    fd_line = first_file(folder, "fd.txt", "fd_genome.txt").read_text().split()
    health = pd.read_csv(first_file(folder, "health.csv", "health_genome.csv"))
    worst = health.loc[health["gap"].idxmax()]
    top = pd.read_csv(first_file(folder, "report/top_genes.csv", "top_genes.csv"))
    leaders = top[top["rank"] == 1]["gene"].value_counts()
    probes = pd.read_csv(first_file(folder, "probes/probes.csv", "probes.csv"))
    row = {
        "fd_cls": float(fd_line[fd_line.index("FD_cls") + 1]),
        "within_target": int((health["gap"] <= GAP_TARGET).sum()),
        "largest_gap": worst["gap"],
        "largest_gap_attribute": worst["attribute"],
        "distinct_top_genes": len(leaders),
        "largest_top_gene_share": leaders.iloc[0] / leaders.sum(),
        "top_gene": ", ".join(str(g) for g in sorted(leaders.index[leaders == leaders.iloc[0]])),  # ties: all
        "probe_balanced": probes["genome w balanced acc"].mean(),
        "probe_plain": probes["genome w acc"].mean(),
    }
    row.update(table4(first_file(folder, "table4/conditional.csv", "table4.csv")))
    eq6 = table4(first_file(folder, "table4_eq6/conditional.csv", "table4_eq6.csv"))
    row.update({f"eq6_{key}": value for key, value in eq6.items()})
    return row


def main(pairs: list[str]) -> None:
    rows = []
    for pair in pairs:
        name, _, folder = pair.partition("=")
        rows.append({"run": name, **figures(Path(folder))})
    frame = pd.DataFrame(rows)
    frame.to_csv(HERE / "summary.csv", index=False, float_format="%.4f")
    print(frame.T.to_string())


if __name__ == "__main__":
    main(sys.argv[1:])
