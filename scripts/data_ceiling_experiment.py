"""Issue 13: what conditional sampling would reach on a generator that draws exactly the data.

Eq. 5 with temperature draws a sequence k with weight p(k) p(value | k)^(1/T), p(value | k) being what
the classifier set says of k's image. Put the data in the generator's place (every image equally likely,
standing for a sequence) and the same draw gives the accuracy of a perfect generator with an exact
sampler, by that classifier set: the weighted share of images the set calls the requested value. It is
the ``ceiling`` of ``conditional_sampling_experiment.py`` with the data for the collected rows. Where
the data's ceiling misses a target, no generator and no sampler reaches it with that classifier set.

Images held out from the classifier set's training give the fair figure (a generator's samples are new
to the set too); on the set's own training images its confidence is higher. Where the dataset has
labels, ``label_share`` is the weighted share of images whose label has the requested value: how often
the draw lands on what the data's annotators call it.

    .venv/bin/python scripts/data_ceiling_experiment.py --data fmnist32_test.zip --classifiers fm_cls_train \\
        --attributes Shirt,Bag --values yes --temps 1,0.5,0.3 --out docs/experiments/data_ceiling/fmnist
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiment_runs import refuse  # noqa: E402


def ceilings(probabilities: torch.Tensor, labels: torch.Tensor | None, columns: dict[str, int],
             label_columns: dict[str, int], values: list[bool], temps: list[float]) -> pd.DataFrame:  # fmt: skip
    """One row per (attribute, value, temperature): the eq. 5 ceiling of the images whose classifier
    ``probabilities`` (N, A) are given, their plain frequency, and the labels' share where there are labels."""
    from conditional_sampling_experiment import eq5_ceiling, eq5_weights

    rows = []
    for attribute, index in columns.items():
        p = probabilities[:, index]
        for present in values:
            for t in temps:
                row = {"attribute": attribute, "value": "yes" if present else "no", "temperature": t,
                       "ceiling": eq5_ceiling(p, present, t),
                       "frequency": float(((p > 0.5) == present).double().mean()), "images": len(p)}  # fmt: skip
                if labels is not None and attribute in label_columns:
                    weights = eq5_weights(p, present, t)
                    truth = (labels[:, label_columns[attribute]] > 0.5) == present
                    row["label_share"] = float((weights * truth).sum() / weights.sum())
                rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    from classifiers import load_classifier_set
    from classifiers.evaluate import score_dataset
    from genomekit.data import open_dataset
    from genomekit.errors import UserError
    from genomekit.fileio import atomic_write

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="images (zip or folder), held out from the set")
    parser.add_argument("--classifiers", default="default", help="the classifier set that steers and scores")
    parser.add_argument("--attributes", required=True, help="comma-separated attribute names")
    parser.add_argument("--values", default="yes,no", help="yes, no or yes,no")
    parser.add_argument("--temps", default="1,0.5,0.3")
    parser.add_argument("--images", type=int, default=None, help="use the first N images (default: all)")
    parser.add_argument("--out", type=Path, required=True, help="folder for cells.csv")
    args = parser.parse_args(argv)
    try:
        temps = [float(t) for t in args.temps.split(",")]
    except ValueError:
        refuse(f"--temps must be comma-separated numbers, got {args.temps!r}")
    if any(t <= 0 for t in temps):
        refuse(f"--temps must be positive, got {args.temps}")
    if not set(args.values.split(",")) <= {"yes", "no"}:
        refuse(f"--values must be yes, no or yes,no, got {args.values!r}")
    values = [value == "yes" for value in args.values.split(",")]
    if args.images is not None and args.images < 1:
        refuse(f"--images must be at least 1, got {args.images}")
    try:
        dataset = open_dataset(args.data)
        classifiers = load_classifier_set(args.classifiers, resolution=dataset.resolution)
    except UserError as error:
        refuse(str(error))
    names = list(classifiers.attribute_names)
    attributes = args.attributes.split(",")
    unknown = [a for a in attributes if a not in names]
    if unknown:
        refuse(f"--attributes: {', '.join(unknown)} not in the classifier set ({', '.join(names)})")
    count = len(dataset) if args.images is None else min(args.images, len(dataset))
    probabilities = score_dataset(classifiers, torch.utils.data.Subset(dataset, range(count)), progress=False)
    labels = None if dataset.labels is None else dataset.labels[:count]
    label_columns = {name: i for i, name in enumerate(dataset.attribute_names)}
    cells = ceilings(probabilities, labels, {a: names.index(a) for a in attributes}, label_columns, values, temps)
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out / "cells.csv", "w") as f:
        cells.to_csv(f, index=False, float_format="%.4f")
    print(cells.to_string(index=False))
    print(cells.groupby("temperature")["ceiling"].mean().rename("mean ceiling").to_string())
    print(f"wrote {args.out}/cells.csv ({count} images of {args.data}, classifier set {args.classifiers})")


if __name__ == "__main__":
    main()
