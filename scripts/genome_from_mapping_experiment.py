"""Measure `genomekit genome-from-mapping` on the shipped mapping model: one arm per rotation (and balance),
optionally fine-tuned, each scored with the commands a user runs. Writes results.json in --out.

Per arm: FD on classifier features (10k generated vs the first 10k training faces, as the model card),
distinct top genes over the 40 attributes and the largest share (30k-sample statistics), and Table 4 at
T = 1, 0.5, 0.3 over the paper's 10 attributes (yes and no, 64 samples per cell).

    python scripts/genome_from_mapping_experiment.py --out runs/g2m [--arms pca,ica] [--finetune 10,20,50]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genomekit.stats import attribute_given_variant, load_stats  # noqa: E402
from genomekit.stats.scores import gene_standard_scores  # noqa: E402

PAPER_ATTRIBUTES = [
    "Male", "Bags_Under_Eyes", "High_Cheekbones", "Smiling", "Big_Nose",
    "Mouth_Slightly_Open", "Young", "Wearing_Lipstick", "Attractive", "Eyeglasses",
]  # fmt: skip
GENOMEKIT = [str(REPO / ".venv" / "bin" / "genomekit")]


def run(*args: object) -> str:
    command = [*GENOMEKIT, *map(str, args)]
    print("$", " ".join(command[1:]), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def fd_classifier(model: Path | str, real: Path) -> float:
    out = run("metrics", "fid", "--model", model, "--data", real, "--features", "classifier",
              "--classifiers", "default", "--samples", 10_000, "--no-progress")  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("FD_cls"))
    return float(line.split()[1])


def top_gene_spread(stats_dir: Path) -> dict:
    stats = load_stats(stats_dir)
    p_attr = attribute_given_variant(stats.totals.sums, stats.totals.counts, min_count=0)
    top = gene_standard_scores(p_attr).argmax(dim=0)  # (A,)
    counts = torch.bincount(top, minlength=p_attr.shape[0])
    return {"distinct_top_genes": int((counts > 0).sum()), "largest_share": float(counts.max() / len(top))}


def table4(model: Path, stats_dir: Path, out: Path) -> dict:
    attrs = [a for name in PAPER_ATTRIBUTES for a in ("--attr", name)]
    run("evaluate-conditional", "--model", model, "--stats", stats_dir, "--out", out, *attrs,
        "--temps", "1.0,0.5,0.3", "--samples", 64)  # fmt: skip
    table = pd.read_csv(out / "conditional.csv")
    mean = table.groupby("temperature")["accuracy"].mean()
    pivot = table.pivot_table(index=["attribute", "value"], columns="temperature", values="accuracy")
    falls = int(((pivot[0.5] < pivot[1.0]) | (pivot[0.3] < pivot[0.5])).sum())
    return {"table4_mean": {str(t): float(v) for t, v in mean.items()}, "cells_that_fall": falls}


def evaluate(model: Path | str, name: str, out: Path, real: Path) -> dict:
    stats_dir = out / f"{name}-stats"
    if not (stats_dir / "manifest.json").is_file() or "complete" not in (stats_dir / "manifest.json").read_text():
        run("collect-stats", "--model", model, "--samples", 30_000, "--out", stats_dir, "--no-progress")
    row = {"arm": name, "fd_classifier": fd_classifier(model, real), **top_gene_spread(stats_dir)}
    row.update(table4(Path(model), stats_dir, out / f"{name}-table4"))
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--arms", default="none,pca,ica,pca-balanced,ica-balanced")
    parser.add_argument("--finetune", default="", help="kimg stages of a fine-tune of --finetune-arm, e.g. 10,20,50")
    parser.add_argument("--finetune-arm", default="ica")
    parser.add_argument("--baselines", action="store_true", help="also score the shipped default and default-mapping")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    real = out / "faces32_first10k.zip"
    if not real.is_file():  # the first 10k of the shipped models' training set (synth-faces seed 0)
        run("data", "synth-faces", "--out", real, "--images", 10_000, "--resolution", 32, "--seed", 0)
    if args.baselines:
        results["default-mapping"] = {"arm": "default-mapping", "fd_classifier": fd_classifier("default-mapping", real)}
        results["default"] = evaluate("default", "default", out, real)
    for arm in [a for a in args.arms.split(",") if a]:
        rotation, _, balance = arm.partition("-")
        model = out / f"{arm}.safetensors"
        start = time.perf_counter()
        if not model.is_file():
            log = run("genome-from-mapping", "--model", "default-mapping", "--genes", 32, "--variants", 256,
                      "--rotation", rotation, "--samples", 100_000, "--out", model,
                      *(["--balanced"] if balance else []))  # fmt: skip
            (out / f"{arm}.log").write_text(log)
        results[arm] = {**evaluate(model, arm, out, real), "convert_seconds": time.perf_counter() - start}
        results_path.write_text(json.dumps(results, indent=2))
    stages = [float(k) for k in args.finetune.split(",") if k]
    if stages and not (out / "faces32_50k.zip").is_file():  # the shipped models' training set
        run(
            "data", "synth-faces", "--out", out / "faces32_50k.zip", "--images", 50_000, "--resolution", 32, "--seed", 0
        )
    for kimg in stages:
        name = f"{args.finetune_arm}-ft{kimg:g}"
        model = out / f"{name}.safetensors"
        if not model.is_file():
            run("genome-from-mapping", "--model", "default-mapping", "--genes", 32, "--variants", 256,
                "--rotation", args.finetune_arm.split("-")[0], "--samples", 100_000, "--out", model,
                *(["--balanced"] if "balanced" in args.finetune_arm else []),
                "--finetune-kimg", kimg, "--data", out / "faces32_50k.zip", "--run-dir", out / f"{args.finetune_arm}-finetune")  # fmt: skip
        results[name] = evaluate(model, name, out, real)
        results_path.write_text(json.dumps(results, indent=2))
    results_path.write_text(json.dumps(results, indent=2))
    print(f"wrote {results_path}")


if __name__ == "__main__":
    main()
