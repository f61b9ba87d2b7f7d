"""The insertion settings sweep as a figure: fit (mean PSNR after insertion) against drift (mean absolute
change of the classifier probabilities of 1,000 random other samples), 16 images at once.

    python scripts/plot_insertion_sweep.py docs/experiments/projection/sweep.csv docs/experiments/projection/frontier.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    rows = pd.read_csv(args.sweep)
    rows = rows[(rows["images"] == 16) & (rows["start"] == "searched_2")]
    figure, axis = plt.subplots(figsize=(6.4, 4.4))
    for (pixel, phased), group in rows.groupby([rows["pixel_weight"], rows["fit_fraction"] < 1]):
        label = f"pixel weight {pixel:g}, " + ("fit then consolidate" if phased else "one phase")
        axis.scatter(group["mean_abs_probability_change"], group["psnr_after_mean"], label=label, s=28)
        for _, row in group.iterrows():
            axis.annotate(f"{row['steps']}", (row["mean_abs_probability_change"], row["psnr_after_mean"]),
                          textcoords="offset points", xytext=(4, 3), fontsize=7)  # fmt: skip
    axis.axvline(0.02, color="grey", linestyle="--", linewidth=0.8)
    axis.axhline(rows["psnr_wplus_mean"].iloc[0] - 2, color="grey", linestyle=":", linewidth=0.8)
    axis.set_xlabel("drift of 1,000 random samples: mean |change| of classifier probabilities")
    axis.set_ylabel("mean PSNR after insertion (dB)")
    axis.set_title("Inserting 16 held-out faces at once (labels: steps)", fontsize=10)
    axis.text(0.0203, axis.get_ylim()[0] + 0.2, "drift target 0.02", fontsize=7, color="grey")
    axis.text(axis.get_xlim()[1], rows["psnr_wplus_mean"].iloc[0] - 2.25, "mean W+ PSNR - 2 dB  ", fontsize=7,
              color="grey", ha="right")  # fmt: skip
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(args.out, dpi=130)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
