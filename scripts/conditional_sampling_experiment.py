"""Issue 13, item 4: which conditional sampler reaches the paper's Table 4 accuracy, without retraining?

Table 4's form on one model: for the paper's 10 attributes, yes and no, at T = 1, 0.5, 0.3, the share
of conditional samples that show the requested value. Every sampler is steered by the statistics'
classifier set (the one collect-stats used) and graded by a second set trained on other data
(--grader: other faces, another seed and architecture), so no sampler is graded by the network that
steered it. Samplers:

* ``eq6``: StyleGenes eq. 6 with temperature over all genes, from the collected statistics;
* ``refined-soft`` / ``refined-hard``: eq. 6 whose p(a | k_i = j) are re-estimated under the
  conditional distribution itself: draw from the current eq. 6, score the samples, replace each
  variant's estimate by the mean (soft: probability; hard: p > 0.5) over the samples that carry it
  (shrunk towards the previous estimate with ``--prior`` pseudo-samples), and iterate ``--rounds``
  times (``genomekit.sampling.refine_statistics``);
* ``gibbs``: eq. 5 without eq. 6's factorisation: Gibbs sampling over genes from
  ``p(k) p(a | k)^(1/T)``, with ``p(a | k)`` an MLP on w fitted to the statistics' rows
  (``genomekit.surrogate``; its held-out agreement with the steering set goes to surrogate_fit.csv);
* ``resample``: eq. 5 exactly, for the collected sequences: draw the statistics' rows with replacement,
  weighted by p(value | k)^(1/T) as the steering set scored them at collection. Not a generator of new
  sequences (each draw is a collected one); it is the accuracy an exact eq. 5 reaches, graded
  independently, and ``ceiling`` (every cell) is the same figure by the steering set, without drawing;
* ``accept``: classifier-guided acceptance (clearly not eq. 6): draw from eq. 6 and keep the samples
  the steering set accepts.

Also the Fréchet distance (grader features) of each cell's samples to unconditional ones: how far
the samples leave the image distribution.

    .venv/bin/python scripts/conditional_sampling_experiment.py --model default --stats STATS \\
        --grader GRADER --out docs/experiments/conditional_sampling
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAPER_ATTRIBUTES = ("Male", "Bags_Under_Eyes", "High_Cheekbones", "Smiling", "Big_Nose", "Mouth_Slightly_Open",
                    "Young", "Wearing_Lipstick", "Attractive", "Eyeglasses")  # fmt: skip


def main() -> None:
    from classifiers import load_classifier_set
    from genomekit.metrics.frechet import FeatureStats, frechet_distance_from_stats
    from genomekit.sampling import Condition, conditional_logits, refine_statistics
    from genomekit.stats import attribute_given_variant, classifier_source, load_stats
    from genomekit.surrogate import fit_surrogate, read_rows, sample_gibbs
    from genomekit.training import load_generator

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--grader", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--temps", default="1,0.5,0.3")
    parser.add_argument("--n", type=int, default=64, help="samples per cell")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=512)
    parser.add_argument("--prior", type=float, default=8.0)
    parser.add_argument("--samplers", default="eq6,refined-soft,refined-hard,accept")
    parser.add_argument("--attributes", default=",".join(PAPER_ATTRIBUTES))
    parser.add_argument("--values", default="yes,no", help="which cells: yes, no or both")
    parser.add_argument("--sweeps", type=int, default=8, help="gibbs: sweeps over the genes")
    parser.add_argument("--surrogate-hidden", type=int, default=256)
    parser.add_argument("--surrogate-epochs", type=int, default=25)
    parser.add_argument("--real", type=Path, help="real images: how often steering and grading sets agree on them")
    parser.add_argument("--agreement-only", action="store_true", help="only measure the two sets' agreement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not set(args.values.split(",")) <= {"yes", "no"}:
        parser.error(f"--values takes yes, no or yes,no; got {args.values!r}")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    G = load_generator(args.model)
    stats = load_stats(args.stats)
    steer = load_classifier_set(classifier_source(stats) or "default", resolution=G.config.resolution)
    grader = load_classifier_set(args.grader, resolution=G.config.resolution)
    names = list(stats.attributes)
    p_attr = attribute_given_variant(stats.totals.sums, stats.totals.counts, min_count=0)
    temps = [float(t) for t in args.temps.split(",")]

    @torch.no_grad()
    def render(seqs: torch.Tensor) -> torch.Tensor:
        return torch.cat([G(seqs[i : i + 128], noise_mode="const").clamp(-1, 1) for i in range(0, len(seqs), 128)])

    @torch.no_grad()
    def score(classifiers, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [classifiers.probabilities_and_features(images[i : i + 256]) for i in range(0, len(images), 256)]
        return torch.cat([p for p, _ in parts]), torch.cat([f for _, f in parts])

    def steer_scores(seqs: torch.Tensor) -> torch.Tensor:
        return score(steer, render(seqs))[0]

    uncond = G.latent.sample(args.n * 4, torch.Generator().manual_seed(args.seed + 1))
    _, uncond_feats = score(grader, render(uncond))
    reference = FeatureStats.from_features(uncond_feats)

    # How often the two sets agree, on generated and on real images: the ceiling of a graded Table 4
    agreement = []
    sources = {"generated": render(G.latent.sample(1024, torch.Generator().manual_seed(args.seed + 2)))}
    if args.real is not None:
        from genomekit.data import open_dataset

        dataset = open_dataset(args.real)
        sources["real"] = torch.stack([dataset[i] for i in range(min(1024, len(dataset)))]).float() / 127.5 - 1
    for source, images in sources.items():
        steered, _ = score(steer, images)
        graded, _ = score(grader, images)
        for attribute in args.attributes.split(","):
            a, b = (
                steered[:, names.index(attribute)] > 0.5,
                graded[:, list(grader.attribute_names).index(attribute)] > 0.5,
            )
            agreement.append({"images": source, "attribute": attribute, "agreement": float((a == b).float().mean()),
                              "steer_frequency": float(a.float().mean()), "grader_frequency": float(b.float().mean())})  # fmt: skip
    agreement = pd.DataFrame(agreement)
    agreement.to_csv(args.out / "agreement.csv", index=False)
    print(agreement.to_string(index=False))
    print(agreement.groupby("images")["agreement"].mean().to_string())
    if args.agreement_only:
        return

    surrogate = None
    sequences, probabilities = read_rows(stats)
    if "gibbs" in args.samplers.split(","):
        surrogate, fit = fit_surrogate(G.latent.genes, sequences, probabilities, names, hidden=args.surrogate_hidden,
                                       epochs=args.surrogate_epochs, generator=torch.Generator().manual_seed(args.seed))  # fmt: skip
        fit_table = pd.DataFrame({"attribute": names, "agreement": fit.agreement,
                                  "balanced_agreement": fit.balanced_agreement})  # fmt: skip
        fit_table.to_csv(args.out / "surrogate_fit.csv", index=False)
        print(f"surrogate: {fit.rows} rows, epoch {fit.epochs}, held-out loss {fit.val_loss:.4f}, "
              f"agreement {fit.agreement.mean():.3f}, balanced {fit.balanced_agreement.mean():.3f}", flush=True)  # fmt: skip

    rows = []
    start = time.time()
    for sampler in args.samplers.split(","):
        for attribute in args.attributes.split(","):
            index = names.index(attribute)
            gcol = list(grader.attribute_names).index(attribute)
            for present in [value == "yes" for value in args.values.split(",")]:
                condition = Condition(attribute, index, present)
                for t in temps:
                    rng = torch.Generator().manual_seed(args.seed)
                    table = p_attr
                    if sampler.startswith("refined"):
                        table = refine_statistics(G.latent, p_attr, [condition], t, steer_scores, rounds=args.rounds,
                                                  samples=args.per_round, prior=args.prior,
                                                  hard=sampler.endswith("hard"), generator=rng)  # fmt: skip
                    logits = conditional_logits(table, [condition], t)
                    if sampler == "accept":
                        kept, tries = [], 0
                        while sum(len(k) for k in kept) < args.n and tries < 20:
                            seqs = G.latent.sample_categorical(logits, args.n, rng)
                            p = steer_scores(seqs)[:, index]
                            kept.append(seqs[(p > 0.5) == present])
                            tries += 1
                        seqs = torch.cat(kept)[: args.n]
                        if len(seqs) < args.n:  # the steering set rarely accepts: fill with eq. 6 draws
                            seqs = torch.cat([seqs, G.latent.sample_categorical(logits, args.n - len(seqs), rng)])
                    elif sampler == "resample":
                        weights = eq5_weights(probabilities[:, index], present, t)
                        seqs = sequences[torch.multinomial(weights, args.n, replacement=True, generator=rng)]
                    elif sampler == "gibbs":
                        seqs = sample_gibbs(surrogate, [condition], t, args.n, sweeps=args.sweeps, generator=rng)
                    else:
                        seqs = G.latent.sample_categorical(logits, args.n, rng)
                    images = render(seqs)
                    graded, feats = score(grader, images)
                    steered, _ = score(steer, images)
                    rows.append({
                        "sampler": sampler, "attribute": attribute, "value": "yes" if present else "no",
                        "temperature": t,
                        "accuracy": float(((graded[:, gcol] > 0.5) == present).float().mean()),
                        "steer_accuracy": float(((steered[:, index] > 0.5) == present).float().mean()),
                        "fd_to_unconditional": frechet_distance_from_stats(FeatureStats.from_features(feats), reference),
                        "distinct": len(torch.unique(seqs, dim=0)),
                        "ceiling": eq5_ceiling(probabilities[:, index], present, t),
                    })  # fmt: skip
            print(f"{sampler} {attribute} done ({time.time() - start:.0f} s)", flush=True)
        frame = pd.DataFrame(rows)
        frame.to_csv(args.out / "cells.csv", index=False)
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["sampler", "temperature"]).agg(
        accuracy=("accuracy", "mean"), steer_accuracy=("steer_accuracy", "mean"),
        fd_to_unconditional=("fd_to_unconditional", "mean"), ceiling=("ceiling", "mean"),
    ).reset_index()  # fmt: skip
    falling = []
    for (sampler, attribute, value), cell in frame.groupby(["sampler", "attribute", "value"]):
        acc = cell.sort_values("temperature", ascending=False)["accuracy"].to_numpy()
        if np.any(np.diff(acc) < 0):
            falling.append({"sampler": sampler, "attribute": attribute, "value": value})
    summary["falling_cells"] = summary["sampler"].map(pd.DataFrame(falling or [{"sampler": None}])["sampler"]
                                                       .value_counts()).fillna(0).astype(int)  # fmt: skip
    summary.to_csv(args.out / "summary.csv", index=False)
    _plot(summary, args.out / "conditional_samplers.png")
    (args.out / "settings.json").write_text(json.dumps(vars(args), default=str, indent=2) + "\n")
    print(summary.to_string(index=False))


def eq5_weights(probability: torch.Tensor, present: bool, temperature: float) -> torch.Tensor:
    """(N,) float64 weights of collected rows under eq. 5 with temperature: p(value | k)^(1/T), uniform p(k)."""
    q = probability.to(torch.float64) if present else 1 - probability.to(torch.float64)
    log_w = torch.log(q.clamp(min=1e-6)) / temperature
    return torch.exp(log_w - log_w.max())


def eq5_ceiling(probability: torch.Tensor, present: bool, temperature: float) -> float:
    """The steering set's accuracy of an exact eq. 5 draw with temperature: the eq5_weights-weighted share of
    collected rows it calls the requested value (what no sampler of p(k) p(value | k)^(1/T) can beat)."""
    weights = eq5_weights(probability, present, temperature)
    shows = (probability > 0.5) == present
    return float((weights * shows).sum() / weights.sum())


def _plot(summary: pd.DataFrame, path: Path) -> None:
    """Mean Table 4 accuracy against temperature, graded (solid) and by the steering set (dashed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    for sampler, rows in summary.groupby("sampler"):
        rows = rows.sort_values("temperature", ascending=False)
        (line,) = left.plot(rows["temperature"], rows["accuracy"], marker="o", label=f"{sampler} (grader)")
        left.plot(rows["temperature"], rows["steer_accuracy"], marker="x", linestyle="--", color=line.get_color(),
                  label=f"{sampler} (steering set)")  # fmt: skip
        right.plot(rows["temperature"], rows["fd_to_unconditional"], marker="o", color=line.get_color(), label=sampler)
    left.axhline(0.958, color="grey", linewidth=0.8, linestyle=":", label="paper, T = 0.3")
    left.set(xlabel="temperature T", ylabel="mean accuracy (10 attributes, yes and no)", xlim=(1.05, 0.25))
    right.set(xlabel="temperature T", ylabel="FD (grader features) to unconditional", xlim=(1.05, 0.25))
    left.legend(fontsize=6)
    right.legend(fontsize=7)
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
