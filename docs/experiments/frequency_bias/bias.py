"""docs/GENOME_HEALTH.md section 5g: which attribute-frequency gaps are the same in every run, and which swing.

Reads the `genomekit metrics health` tables (attribute, generated, data, gap) already measured for runs of the shipped
recipe and its arms: the 100-kimg runs of sections 3d, 5e and 5f and the 100- and 160-kimg runs of section 5d (5,000
samples each), the shipped pair and section 3c's lr0.1 run at 320 kimg (10,000 samples), and any NAME=CSV given on
the command line (this session's runs: g2048 and the genome arm's seed 1).
Writes signed_gaps.csv (generated minus data frequency, attribute x run), bias.csv (per attribute: in how many runs it
is off by more than 0.08, above and below, and the mean signed gap) and signed_gaps.png beside this script; and
trajectories.png, the three attributes' sample frequencies at every snapshot (1,024 samples) of the shipped pair's
runs (docs/experiments/faces_r1/frequencies.csv) and of every --curve NAME=RUN (a run folder with metrics.jsonl).

    .venv/bin/python docs/experiments/frequency_bias/bias.py [NAME=CSV ...] [--curve NAME=RUN ...]
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from genomekit.training.health import GAP_TARGET as TARGET  # issue 13's bar, 0.08

HERE = Path(__file__).parent
EXPERIMENTS = HERE.parent


def recorded() -> dict[str, Path]:
    """The health tables on record: name (arm_sSEED@KIMG) -> path."""
    tables = {f"{p.stem.removeprefix('health5k_')}@100": p
              for p in sorted((EXPERIMENTS / "collapse_r1g10" / "mbstd32").glob("health5k_*.csv"))}  # fmt: skip
    d2048 = EXPERIMENTS / "collapse_r1g10" / "d2048_s0_160kimg"  # section 5d
    tables["d2048_s1@100"] = d2048 / "health5k_d2048_s1_100kimg.csv"
    tables["d2048_s0@160"] = d2048 / "health5k_d2048_s0_160kimg.csv"
    tables["genome_s0@160 (5b's rerun)"] = d2048 / "health5k_shipped_recipe_s0_160kimg.csv"
    tables["genome_s0@320 (shipped)"] = EXPERIMENTS / "pair_r1g10" / "card" / "health_genome.csv"
    tables["mapping_s0@320 (shipped)"] = EXPERIMENTS / "pair_r1g10" / "card" / "health_mapping.csv"
    tables["lr0.1_s0@320"] = EXPERIMENTS / "collapse_r1g10" / "lr0.1_s0_320kimg" / "health.csv"
    return tables


def signed_gaps(tables: dict[str, Path]) -> pd.DataFrame:
    """Generated minus data frequency, one column per run, one row per attribute."""
    columns = {}
    for name, path in tables.items():
        table = pd.read_csv(path).set_index("attribute")
        columns[name] = table["generated"] - table["data"]
    return pd.DataFrame(columns)


def bias(signed: pd.DataFrame) -> pd.DataFrame:
    """Per attribute: runs off by more than TARGET (in all, above, below) and the mean, least and largest signed gap."""
    frame = pd.DataFrame({
        "runs_off": (signed.abs() > TARGET).sum(axis=1),
        "runs_above": (signed > TARGET).sum(axis=1),
        "runs_below": (signed < -TARGET).sum(axis=1),
        "mean_signed_gap": signed.mean(axis=1),
        "min_signed_gap": signed.min(axis=1),
        "max_signed_gap": signed.max(axis=1),
        "runs": signed.shape[1],
    })  # fmt: skip
    return frame.sort_values(["runs_off", "mean_signed_gap"], ascending=[False, False])


def plot(signed: pd.DataFrame, order: pd.Index, path: Path) -> None:
    shown = signed.loc[order[:16]]
    figure = Figure(figsize=(11, 5.2), layout="constrained")
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    image = axis.imshow(shown.to_numpy(), cmap="RdBu_r", vmin=-0.6, vmax=0.6, aspect="auto")
    axis.set_yticks(np.arange(len(shown)), shown.index, fontsize=8)
    axis.set_xticks(np.arange(shown.shape[1]), shown.columns, rotation=35, ha="right", fontsize=7)
    for (row, column), value in np.ndenumerate(shown.to_numpy()):
        if abs(value) > TARGET:
            axis.text(column, row, f"{value:+.2f}", ha="center", va="center", fontsize=6)
    figure.colorbar(image, ax=axis, label="generated minus data frequency")
    axis.set_title("attribute-frequency gaps of every measured run (numbers: off by more than 0.08), the 16 most often off",
                   fontsize=9)  # fmt: skip
    figure.savefig(path, dpi=120)


TRACKED = ("Wavy_Hair", "Straight_Hair", "Wearing_Necklace")


def trajectories(curves: dict[str, Path]) -> dict[str, pd.DataFrame]:
    """Sample frequencies of TRACKED at every snapshot: the shipped pair's runs, then each run folder given."""
    recorded_runs = pd.read_csv(EXPERIMENTS / "faces_r1" / "frequencies.csv")
    shipped = {"shipped Genome (r1g10 s0)": ("r1g10", 0), "shipped mapping (s0)": ("mapping", 0)}
    found = {name: recorded_runs[(recorded_runs["arm"] == arm) & (recorded_runs["seed"] == seed)]
             for name, (arm, seed) in shipped.items()}  # fmt: skip
    for name, run in curves.items():
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        snapshots = [{"kimg": r["kimg"], **r["sample_frequencies"]} for r in rows if "sample_frequencies" in r]
        found[name] = pd.DataFrame(snapshots)
    return found


def plot_trajectories(curves: dict[str, pd.DataFrame], data: pd.Series, path: Path) -> None:
    figure = Figure(figsize=(12, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    for axis, attribute in zip(figure.subplots(1, len(TRACKED)), TRACKED, strict=True):
        for index, (name, rows) in enumerate(curves.items()):
            axis.plot(rows["kimg"], rows[attribute], color=f"C{index}", label=name, linewidth=1.2)
        axis.axhline(data[attribute], color="black", linestyle=":", linewidth=1, label="the data")
        axis.axhspan(data[attribute] - TARGET, data[attribute] + TARGET, color="grey", alpha=0.15)
        axis.set(title=attribute, xlabel="kimg", ylabel="share of samples", ylim=(0, 1))
    axis.legend(fontsize=7)
    title = "three attributes over training (1,024 samples per snapshot; grey: within 0.08 of the data)"
    figure.suptitle(title, fontsize=9)
    figure.savefig(path, dpi=120)


def pairs(values: list[str], flag: str) -> dict[str, Path]:
    parsed = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name:
            raise SystemExit(f"error: {flag} takes NAME=PATH, got {value!r}")
        parsed[name] = Path(path)
    return parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tables", nargs="*", help="NAME=CSV: more health tables")
    parser.add_argument("--curve", action="append", default=[], help="NAME=RUN: a run folder with metrics.jsonl")
    args = parser.parse_args()
    tables = {**recorded(), **pairs(args.tables, "a table")}
    curves = pairs(args.curve, "--curve")
    missing = [str(p) for p in tables.values() if not p.is_file()]
    missing += [str(p / "metrics.jsonl") for p in curves.values() if not (p / "metrics.jsonl").is_file()]
    if missing:
        raise SystemExit(f"error: not found: {', '.join(missing)}")
    signed = signed_gaps(tables)
    table = bias(signed)
    signed.loc[table.index].to_csv(HERE / "signed_gaps.csv", float_format="%.4f")
    table.to_csv(HERE / "bias.csv", float_format="%.4f")
    plot(signed, table.index, HERE / "signed_gaps.png")
    data = pd.read_csv(tables["genome_s0@320 (shipped)"]).set_index("attribute")["data"]
    plot_trajectories(trajectories(curves), data, HERE / "trajectories.png")
    print(table.head(16).round(3).to_string())


if __name__ == "__main__":
    main()
