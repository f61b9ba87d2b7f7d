"""Issue 13, item 2: which training recipe keeps a small StyleGAN2 diverse on real data?

Every arm trains the same data for the same ``--kimg`` from the issue's starting point (32 px, batch 32,
channel_base 1024, no noise inputs, R1 0.0064 (NVlabs' heuristic), a Genome of 32 x 64 x 8; the recipe
that collapsed on Fashion-MNIST) and changes one or two things. Each snapshot's health (`genomekit train --health`, on
the ``--classifiers`` set trained on the same data) holds the diversity of G_ema's samples against the
reals', FD on classifier features and every attribute's share of samples, so with class labels as
attributes the per-class shares come for free. Runs resume.

    python scripts/make_fashion_mnist.py --idx fm/usr/share/datasets/fashion-mnist --out fmnist32.zip
    genomekit classifiers train fmnist32.zip --out fm_cls --resolution 32 --max-minutes 5
    python scripts/real_data_recipe_experiment.py run --data fmnist32.zip --classifiers fm_cls \\
        --runs runs/recipe --kimg 20 --arms base,r1g1
    python scripts/real_data_recipe_experiment.py report --runs runs/recipe --out docs/experiments/recipe
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from experiment_runs import experiment_parser, genomekit_command, parse_and_dispatch, refuse, run_jobs

# The recipe; an arm's flags follow it on the command line, and the last value of a flag counts.
START = ["--resolution", "32", "--batch", "32", "--channel-base", "1024", "--no-noise", "--r1-gamma", "0.0064",
         "--latent", "genome", "--genes", "32", "--variants", "64", "--gene-length", "8"]  # fmt: skip
ARMS = {
    "base": [],
    "mapping": ["--latent", "mapping"],
    "r1g0.1": ["--r1-gamma", "0.1"],
    "r1g1": ["--r1-gamma", "1"],
    "r1g10": ["--r1-gamma", "10"],
    "noise": ["--noise"],
    "cb2048": ["--channel-base", "2048"],
    "aug": ["--augment", "translation,color,cutout"],
    "lr0.001": ["--g-lr", "0.001", "--d-lr", "0.001"],
    "dlr0.0005": ["--d-lr", "0.0005"],
    "b16": ["--batch", "16"],
    "r1g10-mapping": ["--r1-gamma", "10", "--latent", "mapping"],
    "r1g10-b16": ["--r1-gamma", "10", "--batch", "16"],
    "r1g10-noise": ["--r1-gamma", "10", "--noise"],
    "r1g10-lr0.004": ["--r1-gamma", "10", "--g-lr", "0.004", "--d-lr", "0.004"],
    "r1g10-cb2048": ["--r1-gamma", "10", "--channel-base", "2048"],
    "r1g100": ["--r1-gamma", "100"],
}
COLUMNS = ["arm", "seed", "kimg", "fd_cls", "diversity", "freq_gap", "freq_gap_attribute", "top_gene_share"]


def run(args: argparse.Namespace) -> None:
    args.runs.mkdir(parents=True, exist_ok=True)
    jobs = []
    for seed in args.seeds:
        for arm in args.arms:
            out = args.runs / f"{arm}-s{seed}"
            command = genomekit_command() + ["train", "--data", str(args.data), "--out", str(out),
                                             "--kimg", str(args.kimg), "--snap", str(args.snap), "--seed", str(seed),
                                             "--health-classifiers", str(args.classifiers)] + START + ARMS[arm]  # fmt: skip
            if (out / "checkpoint.safetensors").is_file():
                command.append("--resume")
            jobs.append((f"{arm}-s{seed}", command))
    run_jobs(jobs, args.runs, args.parallel)


def gather(runs: Path) -> pd.DataFrame:
    """One row per (arm, seed, snapshot), with each attribute's share of samples as ``share_<name>``."""
    from analysis.train_report import read_metrics

    frames = []
    for run in sorted(p for p in runs.iterdir() if (p / "metrics.jsonl").is_file()):
        arm, seed = run.name.rsplit("-s", 1)
        rows = read_metrics(run)
        rows = rows[rows["diversity"].notna()] if "diversity" in rows else rows.iloc[:0]
        shares = pd.DataFrame(list(rows.get("sample_frequencies", [])), index=rows.index).add_prefix("share_")
        frame = rows.reindex(columns=COLUMNS[2:]).join(shares)
        frame.insert(0, "arm", arm)
        frame.insert(1, "seed", int(seed))
        frames.append(frame)
    if not frames:
        refuse(f"no run with snapshots under {runs}")
    table = pd.concat(frames, ignore_index=True)
    shares = [c for c in table.columns if c.startswith("share_")]
    if shares:
        table["min_share"] = table[shares].min(axis=1)
        table["max_share"] = table[shares].max(axis=1)
    return table


def report(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = gather(args.runs)
    args.out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(args.out / "summary.csv", index=False, float_format="%.4g")
    final = rows.sort_values("kimg").groupby(["arm", "seed"], as_index=False).last()
    final.to_csv(args.out / "final.csv", index=False, float_format="%.4g")
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    order = [arm for arm in ARMS if arm in set(rows["arm"])]
    for index, arm in enumerate(order):
        for seed, group in rows[rows["arm"] == arm].groupby("seed"):
            style = {"color": f"C{index % 10}", "linestyle": "-" if seed == 0 else "--", "label": f"{arm} s{seed}"}
            axes[0].plot(group["kimg"], group["diversity"], **style)
            axes[1].plot(group["kimg"], group["fd_cls"], **style)
    axes[0].axhline(1.0, color="grey", linewidth=0.8)
    axes[0].set_ylabel("diversity (sample / real mean pairwise feature distance)")
    axes[1].set_ylabel("FD on classifier features")
    axes[1].set_yscale("log")
    for axis in axes:
        axis.set_xlabel("kimg")
        axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(args.out / "diversity_fd.png", dpi=120)
    plt.close(figure)
    shown = [
        c for c in ("arm", "seed", "kimg", "fd_cls", "diversity", "freq_gap", "min_share", "max_share") if c in final
    ]
    print(final[shown].to_string(index=False))
    print(f"wrote {args.out}/ (summary.csv, final.csv, diversity_fd.png)")


def main() -> None:
    parser, train, _ = experiment_parser(__doc__, ARMS, kimg=20.0, snap=5.0, seeds=[0])
    train.add_argument("--data", type=Path, required=True)
    train.add_argument("--classifiers", type=Path, required=True, help="a classifier set trained on --data")
    parse_and_dispatch(parser, ARMS, run, report)


if __name__ == "__main__":
    main()
