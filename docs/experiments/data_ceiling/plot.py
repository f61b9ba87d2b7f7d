"""The figure of docs/GENOME_HEALTH.md section 4d: Fashion-MNIST's class-present cells at T = 0.5, by the steering
set, for the data itself (an exact eq. 5 draw over held-out images: data_ceiling_experiment.py), the model's ceiling
(an exact eq. 5 draw over its collected rows) and the samplers of section 4c (refined default and --gibbs, 30,000-row
statistics). Run from the repository root: .venv/bin/python docs/experiments/data_ceiling/plot.py"""

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

HERE = Path(__file__).parent
GIBBS = HERE.parent / "conditional_sampling_gibbs"
CLASSES = ["Tshirt_Top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_Boot"]


def at_half(frame: pd.DataFrame, column: str) -> pd.Series:
    rows = frame[(frame["temperature"] == 0.5) & (frame["value"] == "yes")]
    return rows.set_index("attribute")[column].reindex(CLASSES)


def main() -> None:
    data = at_half(pd.read_csv(HERE / "fmnist" / "cells.csv"), "ceiling")
    model = at_half(pd.read_csv(GIBBS / "fmnist_resample" / "cells.csv"), "ceiling")
    samplers = pd.read_csv(GIBBS / "fmnist" / "cells.csv")
    refined = at_half(samplers[samplers["sampler"] == "refined-soft"], "steer_accuracy")
    gibbs = at_half(samplers[samplers["sampler"] == "gibbs"], "steer_accuracy")
    bars = {"the data (held-out images)": data, "the model's ceiling (exact eq. 5 on its rows)": model,
            "--gibbs": gibbs, "refined eq. 6 (the default)": refined}  # fmt: skip
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    x = np.arange(len(CLASSES))
    for index, (label, values) in enumerate(bars.items()):
        axis.bar(x + (index - 1.5) * 0.2, values * 100, width=0.2, label=label)
    axis.axhline(80, color="grey", linewidth=0.8, linestyle=":", label="issue 13's target")
    axis.set_xticks(x, CLASSES, rotation=20, fontsize=8)
    axis.set(ylabel="class present, % of samples (steering set)", ylim=(0, 122))
    axis.set_title("Fashion-MNIST, --attr X --temp 0.5: the data, the model's ceiling and the samplers", fontsize=9)
    axis.legend(fontsize=7, ncol=5, loc="upper center")
    figure.savefig(HERE / "fmnist_t05.png", dpi=120)
    print(pd.DataFrame(bars).round(3).to_string())


if __name__ == "__main__":
    main()
