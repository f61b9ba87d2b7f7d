"""Issue 13, item 3: what makes one gene take over the genome? Arms at the same training budget, 2+ seeds.

Every arm trains the shipped recipe (synthetic faces at 32 px, batch 32, channel_base 1024, no noise
inputs, R1 ``--base-r1``: 10, genomekit's default and the shipped pair's since December 2026; 0.0064,
NVlabs' heuristic, is the first shipped pair's and that of the runs in docs/experiments/collapse_pilot
and collapse_r1) for the same ``--kimg`` and changes one thing:

    genome      the shipped Genome, 32 genes x 64 variants x 8 (w 256), variants at the full learning rate
    lr0.1       the variants at 0.1 x the learning rate (--genome-lr-mult 0.1)
    lr0.01      ... at 0.01 x
    frozen      the variants frozen at their random start (--genome-lr-mult 0): a control
    v256        256 variants
    g64w256     64 genes x 4 (w 256)
    g32w512     32 genes x 16 (w 512)
    g64w512     64 genes x 8 (w 512)
    mapping     the mapping-network baseline (w 256)
    r1g10       R1 weight 10 (with --base-r1 0.0064: the remedy of docs/GENOME_HEALTH.md section 2)
    r1g1, r1g3  R1 weight 1, 3
    r1g0.0064   R1 weight 0.0064 (with --base-r1 10: the first shipped pair's)
    d2048       the shipped Genome against a discriminator twice as wide (--d-channel-base 2048: 64 channels
                at 32 px where G has 32)
    mbstd32     the shipped Genome with D's minibatch-stddev over groups of 32, the whole batch (--mbstd-group
                32, NVlabs' CIFAR-10 configuration) instead of 4
    noise       the shipped Genome with G's per-pixel noise inputs (--noise, as NVlabs; the recipe has none)
    g2048       the shipped Genome with a generator twice as wide (--channel-base 2048: 64 channels at 32 px)
                against the recipe's discriminator (--d-channel-base 1024)

Each run keeps the health figures of every snapshot in its metrics.jsonl (top gene and its share of the
style variance, FD on classifier features, diversity, largest attribute-frequency gap). Runs resume:
re-running continues every unfinished run from its checkpoint, so the budget can be spread over
sessions; ``--parallel 2`` trains two runs at once with one thread each (on 2 cores, faster in all than
one run on both). Then ``report`` gathers the snapshots into summary.csv, final.csv and three figures.

    python scripts/genome_collapse_experiment.py run --runs runs/collapse --kimg 100 --seeds 0,1
    python scripts/genome_collapse_experiment.py report --runs runs/collapse --out docs/experiments/collapse
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pandas as pd
from experiment_runs import experiment_parser, genomekit_command, parse_and_dispatch, refuse, run_jobs

ARMS = {
    "genome": [],
    "lr0.1": ["--genome-lr-mult", "0.1"],
    "lr0.01": ["--genome-lr-mult", "0.01"],
    "frozen": ["--genome-lr-mult", "0"],
    "v256": ["--variants", "256"],
    "g64w256": ["--genes", "64", "--gene-length", "4"],
    "g32w512": ["--genes", "32", "--gene-length", "16"],
    "g64w512": ["--genes", "64", "--gene-length", "8"],
    "mapping": ["--latent", "mapping"],
    "r1g10": ["--r1-gamma", "10"],
    "r1g1": ["--r1-gamma", "1"],
    "r1g3": ["--r1-gamma", "3"],
    "r1g0.0064": ["--r1-gamma", "0.0064"],
    "d2048": ["--d-channel-base", "2048"],
    "mbstd32": ["--mbstd-group", "32"],
    "noise": ["--noise"],
    "g2048": ["--channel-base", "2048", "--d-channel-base", "1024"],
}
# Arm flags that take no value; they follow the recipe's own (--no-noise), and the last one given counts.
SWITCHES = {"--noise"}
GENOME_DEFAULTS = ["--latent", "genome", "--genes", "32", "--variants", "64", "--gene-length", "8"]
COLUMNS = ["arm", "seed", "kimg", "loss_D", "fd_cls", "diversity", "freq_gap", "freq_gap_attribute", "top_gene",
           "top_gene_share", "effective_genes", "spread_ratio", "leader_since", "leader_first_rank"]  # fmt: skip
# Newer than the first reports (an earlier summary.csv may lack them): the attributes whose sample frequency is
# within 0.08 of the data's, out of 40 (needs the run's health reference).
OPTIONAL = ["within_target"]
# Derived by the report from the arm's gene count, so that arms of 32 and 64 genes compare: the top gene's
# share over an even split's (1 when even) and the effective genes as a fraction of all (1 when even).
RELATIVE = ["genes", "top_over_even", "effective_fraction"]
ARM_FIGURES = ["fd_cls", "diversity", "freq_gap", "within_target", "top_gene_share", "effective_genes", "spread_ratio",
               "top_over_even", "effective_fraction"]  # fmt: skip


def _arm_flags(arm: str) -> list[str]:
    switches = [flag for flag in ARMS[arm] if flag in SWITCHES]
    flags = [flag for flag in ARMS[arm] if flag not in SWITCHES]
    if arm == "mapping":
        return flags + ["--genes", "32", "--gene-length", "8"] + switches
    defaults = dict(zip(GENOME_DEFAULTS[::2], GENOME_DEFAULTS[1::2], strict=True))
    defaults.update(dict(zip(flags[::2], flags[1::2], strict=True)))
    return [item for pair in defaults.items() for item in pair] + switches


def run_command(args: argparse.Namespace, arm: str, seed: int, data: Path) -> list[str]:
    out = args.runs / f"{arm}-s{seed}"
    command = genomekit_command() + ["train", "--data", str(data), "--out", str(out), "--kimg", str(args.kimg),
                              "--snap", str(args.snap), "--seed", str(seed)]  # fmt: skip
    if args.tiny:
        command += ["--resolution", "32", "--batch", "8", "--channel-base", "128", "--channel-max", "16",
                    "--health-samples", "16"]  # fmt: skip
    else:
        command += ["--resolution", "32", "--batch", "32", "--channel-base", "1024", "--no-noise"]
    command += ["--r1-gamma", str(args.base_r1)]  # an arm may override it (the last value counts)
    if (out / "checkpoint.safetensors").is_file():
        command.append("--resume")
    return command + _arm_flags(arm)


def run(args: argparse.Namespace) -> None:
    args.runs.mkdir(parents=True, exist_ok=True)
    data = args.runs / ("faces32-tiny.zip" if args.tiny else "faces32.zip")
    if not data.is_file():
        images = 64 if args.tiny else 50000
        subprocess.run(genomekit_command() + ["data", "synth-faces", "--out", str(data), "--images", str(images),
                                              "--resolution", "32", "--seed", "0"], check=True)  # fmt: skip
    jobs = [(f"{arm}-s{seed}", run_command(args, arm, seed, data)) for seed in args.seeds for arm in args.arms]
    run_jobs(jobs, args.runs, args.parallel)


def gather(runs: Path, required: bool = True) -> pd.DataFrame:
    """Every snapshot of every run under ``runs``: one row per (arm, seed, snapshot). No run there is an
    error when ``required``, else an empty table."""
    from analysis.train_report import genome_concentration, read_metrics, within_target

    frames = []
    found = sorted(p for p in runs.iterdir() if (p / "metrics.jsonl").is_file()) if runs.is_dir() else []
    for run in found:
        arm, seed = run.name.rsplit("-s", 1)
        rows = read_metrics(run)
        rows["arm"], rows["seed"] = arm, int(seed)
        rows["within_target"] = within_target(rows, run)
        concentration = genome_concentration(rows)
        if not concentration.empty:
            rows = rows.merge(concentration, on="kimg", how="left")
            shares = rows["gene_style_share"].dropna()
            # where the last snapshot's top gene ranked (1 = on top) at the first snapshot with health
            first, leader = shares.iloc[0], rows["top_gene"].dropna().iloc[-1]
            rows["leader_first_rank"] = 1 + sum(value > first[int(leader)] for value in first)
        frames.append(rows.reindex(columns=COLUMNS + OPTIONAL))
    if not frames:
        if required:
            refuse(f"no run with snapshots under {runs}")
        return pd.DataFrame(columns=COLUMNS + OPTIONAL)
    return pd.concat(frames, ignore_index=True)


def merged(runs: Path, previous: Path | None) -> pd.DataFrame:
    """The snapshots of the runs under ``runs``, plus those of an earlier report's summary.csv for every
    (arm, seed) with no run here: a report can grow over sessions whose run folders are gone."""
    if previous is None:
        return gather(runs)
    if not previous.is_file():
        refuse(f"--merge {previous}: no such file (an earlier report's summary.csv)")
    earlier = pd.read_csv(previous)
    missing = sorted(set(COLUMNS) - set(earlier.columns))
    if missing:
        refuse(f"--merge {previous}: not a report's summary.csv (lacks {', '.join(missing)})")
    earlier = earlier.reindex(columns=COLUMNS + OPTIONAL)
    rows = gather(runs, required=False)
    if rows.empty:
        return earlier
    here = set(zip(rows["arm"], rows["seed"], strict=True))
    kept = earlier[[key not in here for key in zip(earlier["arm"], earlier["seed"], strict=True)]]
    return pd.concat([kept, rows], ignore_index=True).sort_values(["arm", "seed", "kimg"], kind="stable")


def arm_genes(arm: str) -> int | None:
    """The number of genes of an arm's Genome; None for the mapping baseline."""
    if arm == "mapping":
        return None
    flags = _arm_flags(arm)
    return int(flags[flags.index("--genes") + 1])


def with_relative(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the RELATIVE columns added."""
    rows = rows.copy()
    rows["genes"] = [arm_genes(arm) for arm in rows["arm"]]
    rows["top_over_even"] = rows["top_gene_share"] * rows["genes"]
    rows["effective_fraction"] = rows["effective_genes"] / rows["genes"]
    return rows


def report(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    every = with_relative(merged(args.runs, args.merge))
    rows = every
    if args.kimg is not None:  # a snapshot at "100 kimg" may sit at 100.016 (batches of 32)
        rows = every[every["kimg"] <= args.kimg + 0.05]
        if rows.empty:  # refused before anything is written
            refuse(f"--kimg {args.kimg:g}: no snapshot at or before it (the first is at {every['kimg'].min():g} kimg)")
    args.out.mkdir(parents=True, exist_ok=True)
    # Every snapshot, whatever --kimg: --merge may name this very file (atomic write), and snapshots beyond
    # the budget of runs whose folders are gone would otherwise leave the record for good.
    _write_csv(every, args.out / "summary.csv")
    final = rows.sort_values("kimg").groupby(["arm", "seed"], as_index=False).last()
    _write_csv(final, args.out / "final.csv")
    order = [arm for arm in ARMS if arm in set(rows["arm"])]
    arms = by_arm(final, order)
    _write_csv(arms, args.out / "arms.csv")
    for column, label in (("fd_cls", "FD on classifier features"), ("top_gene_share", "top gene's share of style variance"),
                          ("top_over_even", "top gene's share over an even split's (1: even)"),
                          ("freq_gap", "largest attribute-frequency gap"),
                          ("within_target", "attributes within 0.08 of the data's frequency (of 40)"),
                          ("effective_genes", "effective number of genes, 1 / sum(share^2)"),
                          ("loss_D", "D loss (ln 4 = 1.386: D at chance)")):  # fmt: skip
        figure, axis = plt.subplots(figsize=(7, 4.2))
        for index, arm in enumerate(order):
            runs = rows[(rows["arm"] == arm) & rows[column].notna()]  # no genome figures for mapping
            first = runs["seed"].min()
            for seed, group in runs.groupby("seed"):
                axis.plot(group["kimg"], group[column], color=f"C{index % 10}", alpha=0.9,
                          linestyle="-" if seed == first else "--", label=arm if seed == first else None)  # fmt: skip
        axis.set_xlabel("kimg")
        axis.set_ylabel(label)
        axis.legend(fontsize=7, ncol=3)
        axis.set_title(f"{label} over training (solid: first seed, dashed: the others)", fontsize=9)
        figure.tight_layout()
        figure.savefig(args.out / f"{column}.png", dpi=120)
        plt.close(figure)
    print(final[COLUMNS + OPTIONAL + RELATIVE[1:]].to_string(index=False))
    print()
    print(arms.to_string(index=False))
    print(
        f"wrote {args.out}/ (summary.csv, final.csv, arms.csv and fd_cls, top_gene_share, freq_gap, "
        "within_target, top_over_even, effective_genes, loss_D .png)"
    )


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    from genomekit.fileio import atomic_write

    with atomic_write(path, "w") as f:
        frame.to_csv(f, index=False, float_format="%.5g")


def by_arm(final: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """One row per arm: the mean over its seeds of the last snapshot's figures, the seeds, the budget
    reached, and each seed's top gene (with where it ranked at the first snapshot) as seed:gene(rank)."""
    rows = []
    for arm in order:
        runs = final[final["arm"] == arm].sort_values("seed")
        row = {"arm": arm, "genes": arm_genes(arm), "seeds": len(runs), "kimg": runs["kimg"].min()}
        row.update({column: runs[column].mean() for column in ARM_FIGURES})
        genome = runs.dropna(subset=["top_gene"])
        row["leaders"] = " ".join(f"{int(r.seed)}:{int(r.top_gene)}({int(r.leader_first_rank)})"
                                  for r in genome.itertuples())  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    parser, train, summary = experiment_parser(__doc__, ARMS, kimg=60.0, snap=10.0, seeds=[0, 1])
    train.add_argument("--tiny", action="store_true", help="64 images, tiny networks: a smoke test")
    train.add_argument("--base-r1", type=float, default=10.0, help="R1 weight of every arm (10; 0.0064 before)")
    summary.add_argument("--merge", type=Path, default=None,
                         help="an earlier report's summary.csv: its runs that are not under --runs are kept")  # fmt: skip
    summary.add_argument("--kimg", type=float, default=None,
                         help="compare the arms at this budget: final.csv, arms.csv and the figures use the snapshots up to "
                              "it (default: all); summary.csv keeps every snapshot")  # fmt: skip
    parse_and_dispatch(parser, ARMS, run, report)


if __name__ == "__main__":
    main()
